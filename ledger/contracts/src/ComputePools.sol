// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ComputeRegistry} from "./ComputeRegistry.sol";

/// @title ComputePools
/// @notice Domains, compute pools, invites, membership with active
/// intervals, work submissions with a validation window, and rewards by
/// active time.
///
/// A researcher creates a pool in a domain with a metadata CID and a reward
/// rate (token wei per node-second), funds it, and invites nodes by signing
/// an EIP-712 Invite(domainId, poolId, node, nonce, expiry). The invited node
/// joins with that signature; each (pool, node, nonce) can be used once. A
/// member earns `rewardRate` for every second between its join and its leave
/// (or now), and claims whenever it likes. Members submit work (a hash of the
/// work and of its TOPLOC proof); for the domain's validation window a
/// validator can invalidate a submission, which ejects the node, forfeits its
/// unclaimed rewards in that pool and slashes its provider.
contract ComputePools is Ownable, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant INVITE_TYPEHASH =
        keccak256("Invite(uint256 domainId,uint256 poolId,address node,uint256 nonce,uint256 expiry)");

    struct Domain {
        string name;
        uint64 validationWindow;
        bool exists;
    }

    struct Pool {
        uint256 domainId;
        address owner;
        uint32 activeNodes;
        uint256 rewardRate;
        uint256 funds;
        string metadataCID;
    }

    struct Member {
        uint64 joinedAt; // start of the open interval; 0 when not in the pool
        uint64 activeSeconds; // sum of closed intervals
        uint64 claimedSeconds; // seconds already paid or forfeited
    }

    struct Work {
        address node;
        uint64 submittedAt;
        bool invalidated;
        bytes32 proofHash;
    }

    ComputeRegistry public immutable registry;
    IERC20 public immutable rewardToken;

    uint256 public domainCount;
    uint256 public poolCount;
    mapping(uint256 => Domain) private _domains;
    mapping(uint256 => Pool) private _pools;
    mapping(uint256 => mapping(address => Member)) private _members;
    mapping(uint256 => mapping(bytes32 => Work)) private _work;
    mapping(uint256 => mapping(address => mapping(uint256 => bool))) public inviteUsed;

    event DomainCreated(uint256 indexed domainId, string name, uint64 validationWindow);
    event PoolCreated(uint256 indexed poolId, uint256 indexed domainId, address indexed owner, string metadataCID, uint256 rewardRate);
    event PoolMetadataUpdated(uint256 indexed poolId, string metadataCID);
    event PoolFunded(uint256 indexed poolId, address indexed from, uint256 amount, uint256 funds);
    event NodeJoined(uint256 indexed poolId, address indexed node, uint64 joinedAt, uint256 inviteNonce);
    event NodeLeft(uint256 indexed poolId, address indexed node, uint64 joinedAt, uint64 leftAt, bool ejected);
    event WorkSubmitted(uint256 indexed poolId, address indexed node, bytes32 indexed workHash, bytes32 proofHash);
    event WorkInvalidated(uint256 indexed poolId, address indexed node, bytes32 indexed workHash, address validator, uint256 slashed);
    event RewardsClaimed(uint256 indexed poolId, address indexed node, uint64 activeSeconds, uint256 amount);

    error DomainNotFound(uint256 domainId);
    error PoolNotFound(uint256 poolId);
    error NotPoolOwner(uint256 poolId, address caller);
    error NodeNotStaked(address node);
    error AlreadyInPool(uint256 poolId, address node);
    error NotInPool(uint256 poolId, address node);
    error InviteExpired(uint256 expiry, uint256 now_);
    error InviteAlreadyUsed(uint256 poolId, address node, uint256 nonce);
    error InvalidInviteSigner(address signer, address poolOwner);
    error WorkAlreadySubmitted(uint256 poolId, bytes32 workHash);
    error WorkNotFound(uint256 poolId, bytes32 workHash);
    error WorkAlreadyInvalidated(uint256 poolId, bytes32 workHash);
    error ValidationWindowClosed(uint256 poolId, bytes32 workHash, uint64 closedAt);
    error NotValidator(address caller);
    error NothingToClaim(uint256 poolId, address node);
    error InsufficientPoolFunds(uint256 poolId, uint256 funds, uint256 owed);
    error ZeroAmount();
    error ZeroHash();

    constructor(ComputeRegistry registry_, address initialOwner) Ownable(initialOwner) EIP712("openpool", "1") {
        registry = registry_;
        rewardToken = registry_.stakeToken();
    }

    // ----- domains -----

    function createDomain(string calldata name, uint64 validationWindow) external onlyOwner returns (uint256 domainId) {
        domainId = ++domainCount;
        _domains[domainId] = Domain({name: name, validationWindow: validationWindow, exists: true});
        emit DomainCreated(domainId, name, validationWindow);
    }

    // ----- pools -----

    function createPool(uint256 domainId, string calldata metadataCID, uint256 rewardRate) external returns (uint256 poolId) {
        if (!_domains[domainId].exists) revert DomainNotFound(domainId);
        poolId = ++poolCount;
        Pool storage p = _pools[poolId];
        p.domainId = domainId;
        p.owner = msg.sender;
        p.rewardRate = rewardRate;
        p.metadataCID = metadataCID;
        emit PoolCreated(poolId, domainId, msg.sender, metadataCID, rewardRate);
    }

    function updatePoolMetadata(uint256 poolId, string calldata metadataCID) external {
        Pool storage p = _pool(poolId);
        if (p.owner != msg.sender) revert NotPoolOwner(poolId, msg.sender);
        p.metadataCID = metadataCID;
        emit PoolMetadataUpdated(poolId, metadataCID);
    }

    /// @notice Adds `amount` reward tokens to the pool (anyone may fund).
    function fundPool(uint256 poolId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Pool storage p = _pool(poolId);
        p.funds += amount;
        rewardToken.safeTransferFrom(msg.sender, address(this), amount);
        emit PoolFunded(poolId, msg.sender, amount, p.funds);
    }

    // ----- membership -----

    /// @notice Joins `poolId` as the calling node with an invite signed by
    /// the pool owner.
    function joinPool(uint256 poolId, uint256 nonce, uint256 expiry, bytes calldata signature) external {
        Pool storage p = _pool(poolId);
        address node = msg.sender;
        if (!registry.isNodeStaked(node)) revert NodeNotStaked(node);
        Member storage m = _members[poolId][node];
        if (m.joinedAt != 0) revert AlreadyInPool(poolId, node);
        if (block.timestamp > expiry) revert InviteExpired(expiry, block.timestamp);
        if (inviteUsed[poolId][node][nonce]) revert InviteAlreadyUsed(poolId, node, nonce);
        bytes32 digest = inviteDigest(p.domainId, poolId, node, nonce, expiry);
        (address signer, ECDSA.RecoverError rerr,) = ECDSA.tryRecover(digest, signature);
        if (rerr != ECDSA.RecoverError.NoError || signer != p.owner) revert InvalidInviteSigner(signer, p.owner);
        inviteUsed[poolId][node][nonce] = true;
        m.joinedAt = uint64(block.timestamp);
        p.activeNodes += 1;
        emit NodeJoined(poolId, node, uint64(block.timestamp), nonce);
    }

    function leavePool(uint256 poolId) external {
        _pool(poolId);
        _close(poolId, msg.sender, false);
    }

    /// @notice Removes `node` from the pool. Pool owner only.
    function ejectNode(uint256 poolId, address node) external {
        Pool storage p = _pool(poolId);
        if (p.owner != msg.sender) revert NotPoolOwner(poolId, msg.sender);
        _close(poolId, node, true);
    }

    function _close(uint256 poolId, address node, bool ejected) private {
        Member storage m = _members[poolId][node];
        uint64 joinedAt = m.joinedAt;
        if (joinedAt == 0) revert NotInPool(poolId, node);
        uint64 nowTs = uint64(block.timestamp);
        m.activeSeconds += nowTs - joinedAt;
        m.joinedAt = 0;
        _pools[poolId].activeNodes -= 1;
        emit NodeLeft(poolId, node, joinedAt, nowTs, ejected);
    }

    // ----- work -----

    /// @notice Records a work submission of the calling member: the hash of
    /// the work and the hash of its TOPLOC proof.
    function submitWork(uint256 poolId, bytes32 workHash, bytes32 proofHash) external {
        _pool(poolId);
        if (workHash == bytes32(0)) revert ZeroHash();
        if (_members[poolId][msg.sender].joinedAt == 0) revert NotInPool(poolId, msg.sender);
        Work storage w = _work[poolId][workHash];
        if (w.node != address(0)) revert WorkAlreadySubmitted(poolId, workHash);
        w.node = msg.sender;
        w.submittedAt = uint64(block.timestamp);
        w.proofHash = proofHash;
        emit WorkSubmitted(poolId, msg.sender, workHash, proofHash);
    }

    /// @notice Marks a submission invalid within the domain's validation
    /// window: the node is ejected, its unclaimed rewards in the pool are
    /// forfeited and `slashAmount` of its provider's stake goes to the
    /// validator. Validators only.
    function invalidateWork(uint256 poolId, bytes32 workHash, uint256 slashAmount) external {
        if (!registry.isValidator(msg.sender)) revert NotValidator(msg.sender);
        Pool storage p = _pool(poolId);
        Work storage w = _work[poolId][workHash];
        address node = w.node;
        if (node == address(0)) revert WorkNotFound(poolId, workHash);
        if (w.invalidated) revert WorkAlreadyInvalidated(poolId, workHash);
        uint64 closesAt = w.submittedAt + _domains[p.domainId].validationWindow;
        if (block.timestamp > closesAt) revert ValidationWindowClosed(poolId, workHash, closesAt);
        w.invalidated = true;
        Member storage m = _members[poolId][node];
        if (m.joinedAt != 0) _close(poolId, node, true);
        m.claimedSeconds = m.activeSeconds;
        if (slashAmount > 0) {
            registry.slash(registry.nodeProvider(node), slashAmount, msg.sender);
        }
        emit WorkInvalidated(poolId, node, workHash, msg.sender, slashAmount);
    }

    // ----- rewards -----

    /// @notice Pays the calling node for its unclaimed active seconds.
    function claim(uint256 poolId) external returns (uint256 amount) {
        Pool storage p = _pool(poolId);
        Member storage m = _members[poolId][msg.sender];
        uint64 total = _accrued(m);
        uint64 secs = total - m.claimedSeconds;
        if (secs == 0) revert NothingToClaim(poolId, msg.sender);
        amount = uint256(secs) * p.rewardRate;
        if (amount > p.funds) revert InsufficientPoolFunds(poolId, p.funds, amount);
        p.funds -= amount;
        m.claimedSeconds = total;
        rewardToken.safeTransfer(msg.sender, amount);
        emit RewardsClaimed(poolId, msg.sender, secs, amount);
    }

    function _accrued(Member storage m) private view returns (uint64) {
        uint64 total = m.activeSeconds;
        if (m.joinedAt != 0) total += uint64(block.timestamp) - m.joinedAt;
        return total;
    }

    // ----- views -----

    function inviteDigest(uint256 domainId, uint256 poolId, address node, uint256 nonce, uint256 expiry)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(INVITE_TYPEHASH, domainId, poolId, node, nonce, expiry)));
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function getDomain(uint256 domainId) external view returns (Domain memory) {
        if (!_domains[domainId].exists) revert DomainNotFound(domainId);
        return _domains[domainId];
    }

    function getPool(uint256 poolId) external view returns (Pool memory) {
        return _pool(poolId);
    }

    function member(uint256 poolId, address node) external view returns (Member memory) {
        return _members[poolId][node];
    }

    function pendingRewards(uint256 poolId, address node) external view returns (uint256) {
        Pool storage p = _pool(poolId);
        Member storage m = _members[poolId][node];
        return uint256(_accrued(m) - m.claimedSeconds) * p.rewardRate;
    }

    function work(uint256 poolId, bytes32 workHash) external view returns (Work memory) {
        return _work[poolId][workHash];
    }

    function _pool(uint256 poolId) private view returns (Pool storage p) {
        p = _pools[poolId];
        if (p.owner == address(0)) revert PoolNotFound(poolId);
    }
}
