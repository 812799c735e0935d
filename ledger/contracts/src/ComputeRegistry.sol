// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ComputeRegistry
/// @notice Providers, their nodes and hardware claims, and the stake that
/// backs them. A provider stakes once for all its nodes and must hold at least
/// `minStakePerNode` for each registered node. Unstaked tokens wait
/// `unbondingPeriod` before they can be withdrawn and stay slashable until
/// then. Validators (and the contracts the owner names as slashers, such as
/// ComputePools) can slash; slashing takes unbonding funds first, then stake,
/// and pays the beneficiary.
contract ComputeRegistry is Ownable {
    using SafeERC20 for IERC20;

    /// @notice The most unbonding entries a provider can have at once.
    uint256 public constant MAX_PENDING_UNBONDS = 10;

    struct NodeInfo {
        address provider;
        uint32 computeUnits;
        string hardware;
    }

    struct Unbond {
        uint192 amount;
        uint64 releaseAt;
    }

    struct Provider {
        bool registered;
        uint32 nodeCount;
        uint256 stake;
        Unbond[] unbonds;
    }

    IERC20 public immutable stakeToken;
    uint256 public minStakePerNode;
    uint64 public unbondingPeriod;

    mapping(address => Provider) private _providers;
    mapping(address => NodeInfo) private _nodes;
    mapping(address => bool) public isValidator;
    mapping(address => bool) public isSlasher;

    event ProviderRegistered(address indexed provider);
    event NodeRegistered(address indexed provider, address indexed node, uint32 computeUnits, string hardware);
    event NodeRemoved(address indexed provider, address indexed node);
    event Staked(address indexed provider, uint256 amount, uint256 total);
    event UnstakeRequested(address indexed provider, uint256 amount, uint64 releaseAt);
    event Withdrawn(address indexed provider, uint256 amount);
    event Slashed(address indexed provider, uint256 amount, address indexed beneficiary, address indexed by);
    event ValidatorSet(address indexed account, bool enabled);
    event SlasherSet(address indexed account, bool enabled);
    event StakeParamsSet(uint256 minStakePerNode, uint64 unbondingPeriod);

    error ProviderNotRegistered(address provider);
    error ProviderAlreadyRegistered(address provider);
    error NodeAlreadyRegistered(address node);
    error NodeNotRegistered(address node);
    error NotNodeProvider(address node, address caller);
    error ZeroAmount();
    error ZeroAddress();
    error InsufficientStake(uint256 remaining, uint256 required);
    error TooManyUnbonds(uint256 pending);
    error NothingToWithdraw(uint64 nextReleaseAt);
    error SlashExceedsStake(uint256 amount, uint256 available);
    error NotSlasher(address caller);

    constructor(IERC20 token, uint256 minStake, uint64 unbonding, address initialOwner) Ownable(initialOwner) {
        if (address(token) == address(0)) revert ZeroAddress();
        stakeToken = token;
        minStakePerNode = minStake;
        unbondingPeriod = unbonding;
        emit StakeParamsSet(minStake, unbonding);
    }

    // ----- administration -----

    function setValidator(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        isValidator[account] = enabled;
        emit ValidatorSet(account, enabled);
    }

    function setSlasher(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        isSlasher[account] = enabled;
        emit SlasherSet(account, enabled);
    }

    function setStakeParams(uint256 minStake, uint64 unbonding) external onlyOwner {
        minStakePerNode = minStake;
        unbondingPeriod = unbonding;
        emit StakeParamsSet(minStake, unbonding);
    }

    // ----- providers and nodes -----

    function registerProvider() external {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert ProviderAlreadyRegistered(msg.sender);
        p.registered = true;
        emit ProviderRegistered(msg.sender);
    }

    /// @notice Registers `node` (the address its operator key signs with)
    /// under the calling provider with a claim of its hardware.
    function registerNode(address node, uint32 computeUnits, string calldata hardware) external {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert ProviderNotRegistered(msg.sender);
        if (node == address(0)) revert ZeroAddress();
        if (_nodes[node].provider != address(0)) revert NodeAlreadyRegistered(node);
        _nodes[node] = NodeInfo({provider: msg.sender, computeUnits: computeUnits, hardware: hardware});
        p.nodeCount += 1;
        emit NodeRegistered(msg.sender, node, computeUnits, hardware);
    }

    function removeNode(address node) external {
        NodeInfo storage n = _nodes[node];
        if (n.provider == address(0)) revert NodeNotRegistered(node);
        if (n.provider != msg.sender) revert NotNodeProvider(node, msg.sender);
        delete _nodes[node];
        _providers[msg.sender].nodeCount -= 1;
        emit NodeRemoved(msg.sender, node);
    }

    // ----- stake -----

    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert ProviderNotRegistered(msg.sender);
        p.stake += amount;
        stakeToken.safeTransferFrom(msg.sender, address(this), amount);
        emit Staked(msg.sender, amount, p.stake);
    }

    /// @notice Starts unbonding `amount`; what remains staked must still
    /// cover every registered node.
    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert ProviderNotRegistered(msg.sender);
        uint256 required = minStakePerNode * p.nodeCount;
        if (amount > p.stake || p.stake - amount < required) {
            revert InsufficientStake(amount > p.stake ? 0 : p.stake - amount, required);
        }
        if (p.unbonds.length >= MAX_PENDING_UNBONDS) revert TooManyUnbonds(p.unbonds.length);
        p.stake -= amount;
        uint64 releaseAt = uint64(block.timestamp) + unbondingPeriod;
        p.unbonds.push(Unbond({amount: uint192(amount), releaseAt: releaseAt}));
        emit UnstakeRequested(msg.sender, amount, releaseAt);
    }

    /// @notice Withdraws every unbonding entry whose period has ended.
    function withdraw() external {
        Provider storage p = _providers[msg.sender];
        uint256 total;
        uint64 next = type(uint64).max;
        uint256 i;
        while (i < p.unbonds.length) {
            Unbond memory u = p.unbonds[i];
            if (u.releaseAt <= block.timestamp) {
                total += u.amount;
                p.unbonds[i] = p.unbonds[p.unbonds.length - 1];
                p.unbonds.pop();
            } else {
                if (u.releaseAt < next) next = u.releaseAt;
                i++;
            }
        }
        if (total == 0) revert NothingToWithdraw(next == type(uint64).max ? 0 : next);
        stakeToken.safeTransfer(msg.sender, total);
        emit Withdrawn(msg.sender, total);
    }

    /// @notice Slashes `amount` from `provider`, unbonding funds first, and
    /// pays it to `beneficiary`. Validators and slasher contracts only.
    function slash(address provider, uint256 amount, address beneficiary) external {
        if (!isValidator[msg.sender] && !isSlasher[msg.sender]) revert NotSlasher(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (beneficiary == address(0)) revert ZeroAddress();
        Provider storage p = _providers[provider];
        uint256 available = p.stake;
        for (uint256 i = 0; i < p.unbonds.length; i++) {
            available += p.unbonds[i].amount;
        }
        if (amount > available) revert SlashExceedsStake(amount, available);
        uint256 left = amount;
        while (left > 0 && p.unbonds.length > 0) {
            Unbond storage u = p.unbonds[p.unbonds.length - 1];
            if (u.amount <= left) {
                left -= u.amount;
                p.unbonds.pop();
            } else {
                u.amount -= uint192(left);
                left = 0;
            }
        }
        p.stake -= left;
        stakeToken.safeTransfer(beneficiary, amount);
        emit Slashed(provider, amount, beneficiary, msg.sender);
    }

    // ----- views -----

    function providerInfo(address provider)
        external
        view
        returns (bool registered, uint32 nodeCount, uint256 staked, uint256 unbonding, uint256 withdrawable)
    {
        Provider storage p = _providers[provider];
        for (uint256 i = 0; i < p.unbonds.length; i++) {
            if (p.unbonds[i].releaseAt <= block.timestamp) {
                withdrawable += p.unbonds[i].amount;
            } else {
                unbonding += p.unbonds[i].amount;
            }
        }
        return (p.registered, p.nodeCount, p.stake, unbonding, withdrawable);
    }

    function unbonds(address provider) external view returns (Unbond[] memory) {
        return _providers[provider].unbonds;
    }

    function nodeInfo(address node) external view returns (NodeInfo memory) {
        return _nodes[node];
    }

    function nodeProvider(address node) external view returns (address) {
        return _nodes[node].provider;
    }

    function requiredStake(address provider) public view returns (uint256) {
        return minStakePerNode * _providers[provider].nodeCount;
    }

    /// @notice True when `node` is registered and its provider's stake covers
    /// all of the provider's nodes.
    function isNodeStaked(address node) external view returns (bool) {
        address provider = _nodes[node].provider;
        if (provider == address(0)) return false;
        Provider storage p = _providers[provider];
        return p.stake >= minStakePerNode * p.nodeCount && p.stake > 0;
    }
}
