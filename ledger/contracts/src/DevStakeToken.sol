// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title DevStakeToken
/// @notice The ERC-20 token that providers stake and pools pay rewards in on
/// development chains. Only the deployer can mint, so a dev chain's supply is
/// whatever `openpool ledger deploy` hands out.
contract DevStakeToken is ERC20, Ownable {
    constructor(address initialOwner) ERC20("openpool dev stake", "OPDEV") Ownable(initialOwner) {}

    /// @notice Mints `amount` tokens to `to`. Owner only.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
