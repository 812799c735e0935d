// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

//lint:file-ignore ST1005 abigen writes these error strings

package bindings

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// ComputeRegistryNodeInfo is an auto generated low-level Go binding around an user-defined struct.
type ComputeRegistryNodeInfo struct {
	Provider     common.Address
	ComputeUnits uint32
	Hardware     string
}

// ComputeRegistryUnbond is an auto generated low-level Go binding around an user-defined struct.
type ComputeRegistryUnbond struct {
	Amount    *big.Int
	ReleaseAt uint64
}

// ComputeRegistryMetaData contains all meta data concerning the ComputeRegistry contract.
var ComputeRegistryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"minStake\",\"type\":\"uint256\"},{\"internalType\":\"uint64\",\"name\":\"unbonding\",\"type\":\"uint64\"},{\"internalType\":\"address\",\"name\":\"initialOwner\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"remaining\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"required\",\"type\":\"uint256\"}],\"name\":\"InsufficientStake\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"NodeAlreadyRegistered\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"NodeNotRegistered\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotNodeProvider\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotSlasher\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"nextReleaseAt\",\"type\":\"uint64\"}],\"name\":\"NothingToWithdraw\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"owner\",\"type\":\"address\"}],\"name\":\"OwnableInvalidOwner\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"OwnableUnauthorizedAccount\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"ProviderAlreadyRegistered\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"ProviderNotRegistered\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"SafeERC20FailedOperation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"available\",\"type\":\"uint256\"}],\"name\":\"SlashExceedsStake\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"pending\",\"type\":\"uint256\"}],\"name\":\"TooManyUnbonds\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAmount\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint32\",\"name\":\"computeUnits\",\"type\":\"uint32\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"hardware\",\"type\":\"string\"}],\"name\":\"NodeRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"NodeRemoved\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previousOwner\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"OwnershipTransferred\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"ProviderRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"by\",\"type\":\"address\"}],\"name\":\"Slashed\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"enabled\",\"type\":\"bool\"}],\"name\":\"SlasherSet\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"minStakePerNode\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"unbondingPeriod\",\"type\":\"uint64\"}],\"name\":\"StakeParamsSet\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"total\",\"type\":\"uint256\"}],\"name\":\"Staked\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"releaseAt\",\"type\":\"uint64\"}],\"name\":\"UnstakeRequested\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"enabled\",\"type\":\"bool\"}],\"name\":\"ValidatorSet\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Withdrawn\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"MAX_PENDING_UNBONDS\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"isNodeStaked\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"isSlasher\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"isValidator\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"minStakePerNode\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"nodeInfo\",\"outputs\":[{\"components\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"uint32\",\"name\":\"computeUnits\",\"type\":\"uint32\"},{\"internalType\":\"string\",\"name\":\"hardware\",\"type\":\"string\"}],\"internalType\":\"structComputeRegistry.NodeInfo\",\"name\":\"\",\"type\":\"tuple\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"nodeProvider\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"providerInfo\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"registered\",\"type\":\"bool\"},{\"internalType\":\"uint32\",\"name\":\"nodeCount\",\"type\":\"uint32\"},{\"internalType\":\"uint256\",\"name\":\"staked\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"unbonding\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"withdrawable\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"},{\"internalType\":\"uint32\",\"name\":\"computeUnits\",\"type\":\"uint32\"},{\"internalType\":\"string\",\"name\":\"hardware\",\"type\":\"string\"}],\"name\":\"registerNode\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"registerProvider\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"node\",\"type\":\"address\"}],\"name\":\"removeNode\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"renounceOwnership\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"requiredStake\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"bool\",\"name\":\"enabled\",\"type\":\"bool\"}],\"name\":\"setSlasher\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"minStake\",\"type\":\"uint256\"},{\"internalType\":\"uint64\",\"name\":\"unbonding\",\"type\":\"uint64\"}],\"name\":\"setStakeParams\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"bool\",\"name\":\"enabled\",\"type\":\"bool\"}],\"name\":\"setValidator\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"}],\"name\":\"slash\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"stake\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"stakeToken\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"transferOwnership\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"unbondingPeriod\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"unbonds\",\"outputs\":[{\"components\":[{\"internalType\":\"uint192\",\"name\":\"amount\",\"type\":\"uint192\"},{\"internalType\":\"uint64\",\"name\":\"releaseAt\",\"type\":\"uint64\"}],\"internalType\":\"structComputeRegistry.Unbond[]\",\"name\":\"\",\"type\":\"tuple[]\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"unstake\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"withdraw\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "ComputeRegistry",
	Bin: "0x60a060405234801561000f575f5ffd5b50604051611d16380380611d1683398101604081905261002e91610166565b806001600160a01b03811661005c57604051631e4fbdf760e01b81525f600482015260240160405180910390fd5b61006581610100565b506001600160a01b03841661008d5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0384166080526001839055600280546001600160401b0319166001600160401b0384169081179091556040805185815260208101929092527f5d493d099c2196ad6b5f758cb185310a62000299c4921d75c2facae8323f915b910160405180910390a1505050506101c3565b5f80546001600160a01b038381166001600160a01b0319831681178455604051919092169283917f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e09190a35050565b6001600160a01b0381168114610163575f5ffd5b50565b5f5f5f5f60808587031215610179575f5ffd5b84516101848161014f565b6020860151604087015191955093506001600160401b03811681146101a7575f5ffd5b60608601519092506101b88161014f565b939692955090935050565b608051611b266101f05f395f8181610211015281816109a901528181610c9e01526110810152611b265ff3fe608060405234801561000f575f5ffd5b506004361061016d575f3560e01c80637e8584c3116100d9578063d044b3b811610093578063f2fde38b1161006e578063f2fde38b146103af578063f5162da9146103c2578063f769c6d0146103d5578063facd743b146103dd575f5ffd5b8063d044b3b814610368578063db693da01461037b578063e5f95a99146103a6575f5ffd5b80637e8584c3146102f65780638da5cb5b1461030c578063a694fc3a1461031c578063b2b99ec91461032f578063bfac599014610342578063c7341b9c14610355575f5ffd5b8063523480801161012a578063523480801461024b57806357601c5d1461025e5780635bc3c81614610290578063653ec134146102a35780636cf6d675146102c3578063715018a6146102ee575f5ffd5b806323c2e2bc146101715780632e17de781461019a5780633ae25916146101af5780633ccfd60b146101f15780634623c91d146101f957806351ed6a301461020c575b5f5ffd5b61018461017f366004611634565b6103ff565b6040516101919190611654565b60405180910390f35b6101ad6101a83660046116b4565b6104f5565b005b6101c26101bd366004611634565b6106db565b60408051951515865263ffffffff9094166020860152928401919091526060830152608082015260a001610191565b6101ad6107db565b6101ad6102073660046116cb565b610a02565b6102337f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b039091168152602001610191565b6101ad6102593660046116cb565b610a90565b61028061026c366004611634565b60066020525f908152604090205460ff1681565b6040519015158152602001610191565b6101ad61029e366004611704565b610b16565b6102b66102b1366004611634565b610b80565b6040516101919190611732565b6002546102d6906001600160401b031681565b6040516001600160401b039091168152602001610191565b6101ad610c13565b6102fe600a81565b604051908152602001610191565b5f546001600160a01b0316610233565b6101ad61032a3660046116b4565b610c26565b6101ad61033d366004611634565b610d04565b6101ad610350366004611792565b610e47565b6102fe610363366004611634565b611107565b610280610376366004611634565b61113d565b610233610389366004611634565b6001600160a01b039081165f908152600460205260409020541690565b6102fe60015481565b6101ad6103bd366004611634565b6111b5565b6101ad6103d03660046117cb565b6111f2565b6101ad6113da565b6102806103eb366004611634565b60056020525f908152604090205460ff1681565b60408051606080820183525f8083526020830152918101919091526001600160a01b038281165f90815260046020908152604091829020825160608101845281549485168152600160a01b90940463ffffffff1691840191909152600181018054919284019161046e9061185d565b80601f016020809104026020016040519081016040528092919081815260200182805461049a9061185d565b80156104e55780601f106104bc576101008083540402835291602001916104e5565b820191905f5260205f20905b8154815290600101906020018083116104c857829003601f168201915b5050505050815250509050919050565b805f0361051557604051631f2a200560e01b815260040160405180910390fd5b335f908152600360205260409020805460ff1661054c57604051631196593d60e11b81523360048201526024015b60405180910390fd5b80546001545f916105699161010090910463ffffffff16906118a9565b9050816001015483118061058b57508083836001015461058991906118c0565b105b156105d657816001015483116105b0578282600101546105ab91906118c0565b6105b2565b5f5b6040516322df051360e11b8152600481019190915260248101829052604401610543565b6002820154600a116106045760028201546040516306dc9a5f60e51b81526004810191909152602401610543565b82826001015f82825461061791906118c0565b90915550506002545f90610634906001600160401b0316426118d3565b6040805180820182526001600160c01b0380881682526001600160401b03808516602080850191825260028a0180546001810182555f91825291902094519151909216600160c01b029216919091179101555190915033907f21020437c0e4b58b34bd7ac1f1cef55e7820d1bcd93824ceb273cad96eea704c906106cd90879085909182526001600160401b0316602082015260400190565b60405180910390a250505050565b6001600160a01b0381165f9081526003602052604081208190819081908190815b60028201548110156107b6574282600201828154811061071e5761071e6118f2565b5f91825260209091200154600160c01b90046001600160401b03161161077857816002018181548110610753576107536118f2565b5f91825260209091200154610771906001600160c01b031684611906565b92506107ae565b81600201818154811061078d5761078d6118f2565b5f918252602090912001546107ab906001600160c01b031685611906565b93505b6001016106fc565b50805460019091015460ff82169861010090920463ffffffff16975095509193509150565b335f908152600360205260408120906001600160401b03815b6002840154811015610958575f846002018281548110610816576108166118f2565b5f918252602091829020604080518082019091529101546001600160c01b0381168252600160c01b90046001600160401b03169181018290529150421061091e57805161086c906001600160c01b031685611906565b60028601805491955090610882906001906118c0565b81548110610892576108926118f2565b905f5260205f20018560020183815481106108af576108af6118f2565b5f91825260209091208254910180546001600160c01b0319166001600160c01b03909216918217815591546001600160401b03600160c01b9182900416021790556002850180548061090357610903611919565b5f8281526020812082015f1990810191909155019055610952565b826001600160401b031681602001516001600160401b0316101561094457806020015192505b8161094e8161192d565b9250505b506107f4565b825f0361099c576001600160401b03828116146109755781610977565b5f5b604051631ca93f3f60e01b81526001600160401b039091166004820152602401610543565b6109d06001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000163385611445565b60405183815233907f7084f5476618d8e60b11ef0d7d3f06914655adb8793e28ff7f018d4c76d505d5906020016106cd565b610a0a6114a9565b6001600160a01b038216610a315760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0382165f81815260056020908152604091829020805460ff191685151590811790915591519182527f6b3b7d0d26ec99d080840dca1323c7147d1868adc66a4290afb8101d7908320d91015b60405180910390a25050565b610a986114a9565b6001600160a01b038216610abf5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0382165f81815260066020908152604091829020805460ff191685151590811790915591519182527fffd5334d9f2bb272aaebfc6c24a6d997a83e846355b47e58d36e882916a6e6289101610a84565b610b1e6114a9565b60018290556002805467ffffffffffffffff19166001600160401b0383169081179091556040805184815260208101929092527f5d493d099c2196ad6b5f758cb185310a62000299c4921d75c2facae8323f915b910160405180910390a15050565b6001600160a01b0381165f908152600360209081526040808320600201805482518185028101850190935280835260609492939192909184015b82821015610c08575f84815260209081902060408051808201909152908401546001600160c01b0381168252600160c01b90046001600160401b031681830152825260019092019101610bba565b505050509050919050565b610c1b6114a9565b610c245f6114d5565b565b805f03610c4657604051631f2a200560e01b815260040160405180910390fd5b335f908152600360205260409020805460ff16610c7857604051631196593d60e11b8152336004820152602401610543565b81816001015f828254610c8b9190611906565b90915550610cc690506001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016333085611524565b600181015460405133917f1449c6dd7851abc30abf37f57715f492010519147cc2652fbc38202c18a6ee9091610a8491868252602082015260400190565b6001600160a01b038082165f9081526004602052604090208054909116610d4957604051639c3baaed60e01b81526001600160a01b0383166004820152602401610543565b80546001600160a01b03163314610d8457604051630507e1e160e21b81526001600160a01b0383166004820152336024820152604401610543565b6001600160a01b0382165f90815260046020526040812080546001600160c01b031916815590610db760018301826115cf565b5050335f9081526003602052604090208054600191908290610de5908290610100900463ffffffff16611945565b92506101000a81548163ffffffff021916908363ffffffff160217905550816001600160a01b0316336001600160a01b03167f202321eaea3aa2b5e1e2ef1dfd98a9d6ba8c90e293f5dc2755b32eb921a4779760405160405180910390a35050565b335f9081526005602052604090205460ff16158015610e755750335f9081526006602052604090205460ff16155b15610e95576040516325e066bb60e11b8152336004820152602401610543565b815f03610eb557604051631f2a200560e01b815260040160405180910390fd5b6001600160a01b038116610edc5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0383165f908152600360205260408120600181015490915b6002830154811015610f4457826002018181548110610f1c57610f1c6118f2565b5f91825260209091200154610f3a906001600160c01b031683611906565b9150600101610efb565b5080841115610f70576040516333667e8360e11b81526004810185905260248101829052604401610543565b835b5f81118015610f845750600283015415155b1561105b576002830180545f9190610f9e906001906118c0565b81548110610fae57610fae6118f2565b5f91825260209091200180549091506001600160c01b03168210611011578054610fe1906001600160c01b0316836118c0565b915083600201805480610ff657610ff6611919565b5f8281526020812082015f1990810191909155019055611055565b8054829082905f9061102d9084906001600160c01b0316611961565b92506101000a8154816001600160c01b0302191690836001600160c01b031602179055505f91505b50610f72565b80836001015f82825461106e91906118c0565b909155506110a890506001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000168587611445565b336001600160a01b0316846001600160a01b0316876001600160a01b03167fc0dc97ffa8c4c1278ae6b693580883715e4b2a42835a0d6259f5d259a1360005886040516110f791815260200190565b60405180910390a4505050505050565b6001600160a01b0381165f9081526003602052604081205460015461113791610100900463ffffffff16906118a9565b92915050565b6001600160a01b038082165f908152600460205260408120549091168061116657505f92915050565b6001600160a01b0381165f908152600360205260409020805460015461119791610100900463ffffffff16906118a9565b8160010154101580156111ad57505f8160010154115b949350505050565b6111bd6114a9565b6001600160a01b0381166111e657604051631e4fbdf760e01b81525f6004820152602401610543565b6111ef816114d5565b50565b335f908152600360205260409020805460ff1661122457604051631196593d60e11b8152336004820152602401610543565b6001600160a01b03851661124b5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b038581165f90815260046020526040902054161561128e5760405163295548e560e01b81526001600160a01b0386166004820152602401610543565b6040518060600160405280336001600160a01b031681526020018563ffffffff16815260200184848080601f0160208091040260200160405190810160405280939291908181526020018383808284375f9201829052509390945250506001600160a01b03808916825260046020908152604092839020855181549287015163ffffffff16600160a01b026001600160c01b031990931693169290921717815590830151909150600182019061134490826119df565b505081546001915082908290611366908290610100900463ffffffff16611a99565b92506101000a81548163ffffffff021916908363ffffffff160217905550846001600160a01b0316336001600160a01b03167f7c94a0a602fdb0162647ada02810ad4dfde3687028c631a9328fa74bf7bbf0f48686866040516113cb93929190611ab5565b60405180910390a35050505050565b335f908152600360205260409020805460ff161561140d57604051633a7bc11560e11b8152336004820152602401610543565b805460ff1916600117815560405133907f70abce74777b3838ae60a33a6b9a87d9d25532668fe4fea548554c55868579c0905f90a250565b6040516001600160a01b038381166024830152604482018390526114a491859182169063a9059cbb906064015b604051602081830303815290604052915060e01b6020820180516001600160e01b038381831617835250505050611563565b505050565b5f546001600160a01b03163314610c245760405163118cdaa760e01b8152336004820152602401610543565b5f80546001600160a01b038381166001600160a01b0319831681178455604051919092169283917f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e09190a35050565b6040516001600160a01b03848116602483015283811660448301526064820183905261155d9186918216906323b872dd90608401611472565b50505050565b5f5f60205f8451602086015f885af180611582576040513d5f823e3d81fd5b50505f513d915081156115995780600114156115a6565b6001600160a01b0384163b155b1561155d57604051635274afe760e01b81526001600160a01b0385166004820152602401610543565b5080546115db9061185d565b5f825580601f106115ea575050565b601f0160209004905f5260205f20908101906111ef91905b80821115611615575f8155600101611602565b5090565b80356001600160a01b038116811461162f575f5ffd5b919050565b5f60208284031215611644575f5ffd5b61164d82611619565b9392505050565b6020815260018060a01b03825116602082015263ffffffff60208301511660408201525f60408301516060808401528051806080850152806020830160a086015e5f60a0828601015260a0601f19601f8301168501019250505092915050565b5f602082840312156116c4575f5ffd5b5035919050565b5f5f604083850312156116dc575f5ffd5b6116e583611619565b9150602083013580151581146116f9575f5ffd5b809150509250929050565b5f5f60408385031215611715575f5ffd5b8235915060208301356001600160401b03811681146116f9575f5ffd5b602080825282518282018190525f918401906040840190835b8181101561178757835180516001600160c01b031684526020908101516001600160401b0316818501529093019260409092019160010161174b565b509095945050505050565b5f5f5f606084860312156117a4575f5ffd5b6117ad84611619565b9250602084013591506117c260408501611619565b90509250925092565b5f5f5f5f606085870312156117de575f5ffd5b6117e785611619565b9350602085013563ffffffff811681146117ff575f5ffd5b925060408501356001600160401b03811115611819575f5ffd5b8501601f81018713611829575f5ffd5b80356001600160401b0381111561183e575f5ffd5b87602082840101111561184f575f5ffd5b949793965060200194505050565b600181811c9082168061187157607f821691505b60208210810361188f57634e487b7160e01b5f52602260045260245ffd5b50919050565b634e487b7160e01b5f52601160045260245ffd5b808202811582820484141761113757611137611895565b8181038181111561113757611137611895565b6001600160401b03818116838216019081111561113757611137611895565b634e487b7160e01b5f52603260045260245ffd5b8082018082111561113757611137611895565b634e487b7160e01b5f52603160045260245ffd5b5f6001820161193e5761193e611895565b5060010190565b63ffffffff828116828216039081111561113757611137611895565b6001600160c01b03828116828216039081111561113757611137611895565b634e487b7160e01b5f52604160045260245ffd5b601f8211156114a457805f5260205f20601f840160051c810160208510156119b95750805b601f840160051c820191505b818110156119d8575f81556001016119c5565b5050505050565b81516001600160401b038111156119f8576119f8611980565b611a0c81611a06845461185d565b84611994565b6020601f821160018114611a3e575f8315611a275750848201515b5f19600385901b1c1916600184901b1784556119d8565b5f84815260208120601f198516915b82811015611a6d5787850151825560209485019460019092019101611a4d565b5084821015611a8a57868401515f19600387901b60f8161c191681555b50505050600190811b01905550565b63ffffffff818116838216019081111561113757611137611895565b63ffffffff8416815260406020820152816040820152818360608301375f818301606090810191909152601f909201601f191601019291505056fea2646970667358221220f825e7f7daa3c2ea6efdf960303fcba665d730e782ee21db0d4152ff4cb0709064736f6c634300081e0033",
}

// ComputeRegistry is an auto generated Go binding around an Ethereum contract.
type ComputeRegistry struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *ComputeRegistry) GetABI() abi.ABI {
	return c.abi
}

// NewComputeRegistry creates a new instance of ComputeRegistry.
func NewComputeRegistry() *ComputeRegistry {
	parsed, err := ComputeRegistryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &ComputeRegistry{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *ComputeRegistry) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address token, uint256 minStake, uint64 unbonding, address initialOwner) returns()
func (computeRegistry *ComputeRegistry) PackConstructor(token common.Address, minStake *big.Int, unbonding uint64, initialOwner common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("", token, minStake, unbonding, initialOwner)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackMAXPENDINGUNBONDS is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7e8584c3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function MAX_PENDING_UNBONDS() view returns(uint256)
func (computeRegistry *ComputeRegistry) PackMAXPENDINGUNBONDS() []byte {
	enc, err := computeRegistry.abi.Pack("MAX_PENDING_UNBONDS")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMAXPENDINGUNBONDS is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7e8584c3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function MAX_PENDING_UNBONDS() view returns(uint256)
func (computeRegistry *ComputeRegistry) TryPackMAXPENDINGUNBONDS() ([]byte, error) {
	return computeRegistry.abi.Pack("MAX_PENDING_UNBONDS")
}

// UnpackMAXPENDINGUNBONDS is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x7e8584c3.
//
// Solidity: function MAX_PENDING_UNBONDS() view returns(uint256)
func (computeRegistry *ComputeRegistry) UnpackMAXPENDINGUNBONDS(data []byte) (*big.Int, error) {
	out, err := computeRegistry.abi.Unpack("MAX_PENDING_UNBONDS", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackIsNodeStaked is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd044b3b8.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isNodeStaked(address node) view returns(bool)
func (computeRegistry *ComputeRegistry) PackIsNodeStaked(node common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("isNodeStaked", node)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsNodeStaked is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd044b3b8.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isNodeStaked(address node) view returns(bool)
func (computeRegistry *ComputeRegistry) TryPackIsNodeStaked(node common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("isNodeStaked", node)
}

// UnpackIsNodeStaked is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xd044b3b8.
//
// Solidity: function isNodeStaked(address node) view returns(bool)
func (computeRegistry *ComputeRegistry) UnpackIsNodeStaked(data []byte) (bool, error) {
	out, err := computeRegistry.abi.Unpack("isNodeStaked", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackIsSlasher is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x57601c5d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isSlasher(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) PackIsSlasher(arg0 common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("isSlasher", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsSlasher is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x57601c5d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isSlasher(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) TryPackIsSlasher(arg0 common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("isSlasher", arg0)
}

// UnpackIsSlasher is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x57601c5d.
//
// Solidity: function isSlasher(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) UnpackIsSlasher(data []byte) (bool, error) {
	out, err := computeRegistry.abi.Unpack("isSlasher", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackIsValidator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfacd743b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isValidator(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) PackIsValidator(arg0 common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("isValidator", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsValidator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfacd743b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isValidator(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) TryPackIsValidator(arg0 common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("isValidator", arg0)
}

// UnpackIsValidator is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfacd743b.
//
// Solidity: function isValidator(address ) view returns(bool)
func (computeRegistry *ComputeRegistry) UnpackIsValidator(data []byte) (bool, error) {
	out, err := computeRegistry.abi.Unpack("isValidator", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackMinStakePerNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe5f95a99.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function minStakePerNode() view returns(uint256)
func (computeRegistry *ComputeRegistry) PackMinStakePerNode() []byte {
	enc, err := computeRegistry.abi.Pack("minStakePerNode")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMinStakePerNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe5f95a99.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function minStakePerNode() view returns(uint256)
func (computeRegistry *ComputeRegistry) TryPackMinStakePerNode() ([]byte, error) {
	return computeRegistry.abi.Pack("minStakePerNode")
}

// UnpackMinStakePerNode is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xe5f95a99.
//
// Solidity: function minStakePerNode() view returns(uint256)
func (computeRegistry *ComputeRegistry) UnpackMinStakePerNode(data []byte) (*big.Int, error) {
	out, err := computeRegistry.abi.Unpack("minStakePerNode", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackNodeInfo is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23c2e2bc.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function nodeInfo(address node) view returns((address,uint32,string))
func (computeRegistry *ComputeRegistry) PackNodeInfo(node common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("nodeInfo", node)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackNodeInfo is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23c2e2bc.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function nodeInfo(address node) view returns((address,uint32,string))
func (computeRegistry *ComputeRegistry) TryPackNodeInfo(node common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("nodeInfo", node)
}

// UnpackNodeInfo is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x23c2e2bc.
//
// Solidity: function nodeInfo(address node) view returns((address,uint32,string))
func (computeRegistry *ComputeRegistry) UnpackNodeInfo(data []byte) (ComputeRegistryNodeInfo, error) {
	out, err := computeRegistry.abi.Unpack("nodeInfo", data)
	if err != nil {
		return *new(ComputeRegistryNodeInfo), err
	}
	out0 := *abi.ConvertType(out[0], new(ComputeRegistryNodeInfo)).(*ComputeRegistryNodeInfo)
	return out0, nil
}

// PackNodeProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdb693da0.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function nodeProvider(address node) view returns(address)
func (computeRegistry *ComputeRegistry) PackNodeProvider(node common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("nodeProvider", node)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackNodeProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdb693da0.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function nodeProvider(address node) view returns(address)
func (computeRegistry *ComputeRegistry) TryPackNodeProvider(node common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("nodeProvider", node)
}

// UnpackNodeProvider is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xdb693da0.
//
// Solidity: function nodeProvider(address node) view returns(address)
func (computeRegistry *ComputeRegistry) UnpackNodeProvider(data []byte) (common.Address, error) {
	out, err := computeRegistry.abi.Unpack("nodeProvider", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function owner() view returns(address)
func (computeRegistry *ComputeRegistry) PackOwner() []byte {
	enc, err := computeRegistry.abi.Pack("owner")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function owner() view returns(address)
func (computeRegistry *ComputeRegistry) TryPackOwner() ([]byte, error) {
	return computeRegistry.abi.Pack("owner")
}

// UnpackOwner is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (computeRegistry *ComputeRegistry) UnpackOwner(data []byte) (common.Address, error) {
	out, err := computeRegistry.abi.Unpack("owner", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackProviderInfo is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ae25916.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function providerInfo(address provider) view returns(bool registered, uint32 nodeCount, uint256 staked, uint256 unbonding, uint256 withdrawable)
func (computeRegistry *ComputeRegistry) PackProviderInfo(provider common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("providerInfo", provider)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackProviderInfo is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ae25916.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function providerInfo(address provider) view returns(bool registered, uint32 nodeCount, uint256 staked, uint256 unbonding, uint256 withdrawable)
func (computeRegistry *ComputeRegistry) TryPackProviderInfo(provider common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("providerInfo", provider)
}

// ProviderInfoOutput serves as a container for the return parameters of contract
// method ProviderInfo.
type ProviderInfoOutput struct {
	Registered   bool
	NodeCount    uint32
	Staked       *big.Int
	Unbonding    *big.Int
	Withdrawable *big.Int
}

// UnpackProviderInfo is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x3ae25916.
//
// Solidity: function providerInfo(address provider) view returns(bool registered, uint32 nodeCount, uint256 staked, uint256 unbonding, uint256 withdrawable)
func (computeRegistry *ComputeRegistry) UnpackProviderInfo(data []byte) (ProviderInfoOutput, error) {
	out, err := computeRegistry.abi.Unpack("providerInfo", data)
	outstruct := new(ProviderInfoOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Registered = *abi.ConvertType(out[0], new(bool)).(*bool)
	outstruct.NodeCount = *abi.ConvertType(out[1], new(uint32)).(*uint32)
	outstruct.Staked = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	outstruct.Unbonding = abi.ConvertType(out[3], new(big.Int)).(*big.Int)
	outstruct.Withdrawable = abi.ConvertType(out[4], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackRegisterNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf5162da9.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function registerNode(address node, uint32 computeUnits, string hardware) returns()
func (computeRegistry *ComputeRegistry) PackRegisterNode(node common.Address, computeUnits uint32, hardware string) []byte {
	enc, err := computeRegistry.abi.Pack("registerNode", node, computeUnits, hardware)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRegisterNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf5162da9.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function registerNode(address node, uint32 computeUnits, string hardware) returns()
func (computeRegistry *ComputeRegistry) TryPackRegisterNode(node common.Address, computeUnits uint32, hardware string) ([]byte, error) {
	return computeRegistry.abi.Pack("registerNode", node, computeUnits, hardware)
}

// PackRegisterProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf769c6d0.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function registerProvider() returns()
func (computeRegistry *ComputeRegistry) PackRegisterProvider() []byte {
	enc, err := computeRegistry.abi.Pack("registerProvider")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRegisterProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf769c6d0.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function registerProvider() returns()
func (computeRegistry *ComputeRegistry) TryPackRegisterProvider() ([]byte, error) {
	return computeRegistry.abi.Pack("registerProvider")
}

// PackRemoveNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb2b99ec9.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function removeNode(address node) returns()
func (computeRegistry *ComputeRegistry) PackRemoveNode(node common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("removeNode", node)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRemoveNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb2b99ec9.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function removeNode(address node) returns()
func (computeRegistry *ComputeRegistry) TryPackRemoveNode(node common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("removeNode", node)
}

// PackRenounceOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x715018a6.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function renounceOwnership() returns()
func (computeRegistry *ComputeRegistry) PackRenounceOwnership() []byte {
	enc, err := computeRegistry.abi.Pack("renounceOwnership")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRenounceOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x715018a6.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function renounceOwnership() returns()
func (computeRegistry *ComputeRegistry) TryPackRenounceOwnership() ([]byte, error) {
	return computeRegistry.abi.Pack("renounceOwnership")
}

// PackRequiredStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc7341b9c.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function requiredStake(address provider) view returns(uint256)
func (computeRegistry *ComputeRegistry) PackRequiredStake(provider common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("requiredStake", provider)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRequiredStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc7341b9c.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function requiredStake(address provider) view returns(uint256)
func (computeRegistry *ComputeRegistry) TryPackRequiredStake(provider common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("requiredStake", provider)
}

// UnpackRequiredStake is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc7341b9c.
//
// Solidity: function requiredStake(address provider) view returns(uint256)
func (computeRegistry *ComputeRegistry) UnpackRequiredStake(data []byte) (*big.Int, error) {
	out, err := computeRegistry.abi.Unpack("requiredStake", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackSetSlasher is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x52348080.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setSlasher(address account, bool enabled) returns()
func (computeRegistry *ComputeRegistry) PackSetSlasher(account common.Address, enabled bool) []byte {
	enc, err := computeRegistry.abi.Pack("setSlasher", account, enabled)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetSlasher is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x52348080.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setSlasher(address account, bool enabled) returns()
func (computeRegistry *ComputeRegistry) TryPackSetSlasher(account common.Address, enabled bool) ([]byte, error) {
	return computeRegistry.abi.Pack("setSlasher", account, enabled)
}

// PackSetStakeParams is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5bc3c816.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setStakeParams(uint256 minStake, uint64 unbonding) returns()
func (computeRegistry *ComputeRegistry) PackSetStakeParams(minStake *big.Int, unbonding uint64) []byte {
	enc, err := computeRegistry.abi.Pack("setStakeParams", minStake, unbonding)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetStakeParams is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5bc3c816.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setStakeParams(uint256 minStake, uint64 unbonding) returns()
func (computeRegistry *ComputeRegistry) TryPackSetStakeParams(minStake *big.Int, unbonding uint64) ([]byte, error) {
	return computeRegistry.abi.Pack("setStakeParams", minStake, unbonding)
}

// PackSetValidator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x4623c91d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setValidator(address account, bool enabled) returns()
func (computeRegistry *ComputeRegistry) PackSetValidator(account common.Address, enabled bool) []byte {
	enc, err := computeRegistry.abi.Pack("setValidator", account, enabled)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetValidator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x4623c91d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setValidator(address account, bool enabled) returns()
func (computeRegistry *ComputeRegistry) TryPackSetValidator(account common.Address, enabled bool) ([]byte, error) {
	return computeRegistry.abi.Pack("setValidator", account, enabled)
}

// PackSlash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbfac5990.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function slash(address provider, uint256 amount, address beneficiary) returns()
func (computeRegistry *ComputeRegistry) PackSlash(provider common.Address, amount *big.Int, beneficiary common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("slash", provider, amount, beneficiary)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSlash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbfac5990.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function slash(address provider, uint256 amount, address beneficiary) returns()
func (computeRegistry *ComputeRegistry) TryPackSlash(provider common.Address, amount *big.Int, beneficiary common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("slash", provider, amount, beneficiary)
}

// PackStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa694fc3a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function stake(uint256 amount) returns()
func (computeRegistry *ComputeRegistry) PackStake(amount *big.Int) []byte {
	enc, err := computeRegistry.abi.Pack("stake", amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa694fc3a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function stake(uint256 amount) returns()
func (computeRegistry *ComputeRegistry) TryPackStake(amount *big.Int) ([]byte, error) {
	return computeRegistry.abi.Pack("stake", amount)
}

// PackStakeToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x51ed6a30.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function stakeToken() view returns(address)
func (computeRegistry *ComputeRegistry) PackStakeToken() []byte {
	enc, err := computeRegistry.abi.Pack("stakeToken")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackStakeToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x51ed6a30.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function stakeToken() view returns(address)
func (computeRegistry *ComputeRegistry) TryPackStakeToken() ([]byte, error) {
	return computeRegistry.abi.Pack("stakeToken")
}

// UnpackStakeToken is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x51ed6a30.
//
// Solidity: function stakeToken() view returns(address)
func (computeRegistry *ComputeRegistry) UnpackStakeToken(data []byte) (common.Address, error) {
	out, err := computeRegistry.abi.Unpack("stakeToken", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (computeRegistry *ComputeRegistry) PackTransferOwnership(newOwner common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("transferOwnership", newOwner)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (computeRegistry *ComputeRegistry) TryPackTransferOwnership(newOwner common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("transferOwnership", newOwner)
}

// PackUnbondingPeriod is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6cf6d675.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function unbondingPeriod() view returns(uint64)
func (computeRegistry *ComputeRegistry) PackUnbondingPeriod() []byte {
	enc, err := computeRegistry.abi.Pack("unbondingPeriod")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUnbondingPeriod is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6cf6d675.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function unbondingPeriod() view returns(uint64)
func (computeRegistry *ComputeRegistry) TryPackUnbondingPeriod() ([]byte, error) {
	return computeRegistry.abi.Pack("unbondingPeriod")
}

// UnpackUnbondingPeriod is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6cf6d675.
//
// Solidity: function unbondingPeriod() view returns(uint64)
func (computeRegistry *ComputeRegistry) UnpackUnbondingPeriod(data []byte) (uint64, error) {
	out, err := computeRegistry.abi.Unpack("unbondingPeriod", data)
	if err != nil {
		return *new(uint64), err
	}
	out0 := *abi.ConvertType(out[0], new(uint64)).(*uint64)
	return out0, nil
}

// PackUnbonds is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x653ec134.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function unbonds(address provider) view returns((uint192,uint64)[])
func (computeRegistry *ComputeRegistry) PackUnbonds(provider common.Address) []byte {
	enc, err := computeRegistry.abi.Pack("unbonds", provider)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUnbonds is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x653ec134.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function unbonds(address provider) view returns((uint192,uint64)[])
func (computeRegistry *ComputeRegistry) TryPackUnbonds(provider common.Address) ([]byte, error) {
	return computeRegistry.abi.Pack("unbonds", provider)
}

// UnpackUnbonds is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x653ec134.
//
// Solidity: function unbonds(address provider) view returns((uint192,uint64)[])
func (computeRegistry *ComputeRegistry) UnpackUnbonds(data []byte) ([]ComputeRegistryUnbond, error) {
	out, err := computeRegistry.abi.Unpack("unbonds", data)
	if err != nil {
		return *new([]ComputeRegistryUnbond), err
	}
	out0 := *abi.ConvertType(out[0], new([]ComputeRegistryUnbond)).(*[]ComputeRegistryUnbond)
	return out0, nil
}

// PackUnstake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2e17de78.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function unstake(uint256 amount) returns()
func (computeRegistry *ComputeRegistry) PackUnstake(amount *big.Int) []byte {
	enc, err := computeRegistry.abi.Pack("unstake", amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUnstake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2e17de78.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function unstake(uint256 amount) returns()
func (computeRegistry *ComputeRegistry) TryPackUnstake(amount *big.Int) ([]byte, error) {
	return computeRegistry.abi.Pack("unstake", amount)
}

// PackWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ccfd60b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function withdraw() returns()
func (computeRegistry *ComputeRegistry) PackWithdraw() []byte {
	enc, err := computeRegistry.abi.Pack("withdraw")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ccfd60b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function withdraw() returns()
func (computeRegistry *ComputeRegistry) TryPackWithdraw() ([]byte, error) {
	return computeRegistry.abi.Pack("withdraw")
}

// ComputeRegistryNodeRegistered represents a NodeRegistered event raised by the ComputeRegistry contract.
type ComputeRegistryNodeRegistered struct {
	Provider     common.Address
	Node         common.Address
	ComputeUnits uint32
	Hardware     string
	Raw          *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryNodeRegisteredEventName = "NodeRegistered"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryNodeRegistered) ContractEventName() string {
	return ComputeRegistryNodeRegisteredEventName
}

// UnpackNodeRegisteredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event NodeRegistered(address indexed provider, address indexed node, uint32 computeUnits, string hardware)
func (computeRegistry *ComputeRegistry) UnpackNodeRegisteredEvent(log *types.Log) (*ComputeRegistryNodeRegistered, error) {
	event := "NodeRegistered"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryNodeRegistered)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryNodeRemoved represents a NodeRemoved event raised by the ComputeRegistry contract.
type ComputeRegistryNodeRemoved struct {
	Provider common.Address
	Node     common.Address
	Raw      *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryNodeRemovedEventName = "NodeRemoved"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryNodeRemoved) ContractEventName() string {
	return ComputeRegistryNodeRemovedEventName
}

// UnpackNodeRemovedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event NodeRemoved(address indexed provider, address indexed node)
func (computeRegistry *ComputeRegistry) UnpackNodeRemovedEvent(log *types.Log) (*ComputeRegistryNodeRemoved, error) {
	event := "NodeRemoved"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryNodeRemoved)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryOwnershipTransferred represents a OwnershipTransferred event raised by the ComputeRegistry contract.
type ComputeRegistryOwnershipTransferred struct {
	PreviousOwner common.Address
	NewOwner      common.Address
	Raw           *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryOwnershipTransferredEventName = "OwnershipTransferred"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryOwnershipTransferred) ContractEventName() string {
	return ComputeRegistryOwnershipTransferredEventName
}

// UnpackOwnershipTransferredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)
func (computeRegistry *ComputeRegistry) UnpackOwnershipTransferredEvent(log *types.Log) (*ComputeRegistryOwnershipTransferred, error) {
	event := "OwnershipTransferred"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryOwnershipTransferred)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryProviderRegistered represents a ProviderRegistered event raised by the ComputeRegistry contract.
type ComputeRegistryProviderRegistered struct {
	Provider common.Address
	Raw      *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryProviderRegisteredEventName = "ProviderRegistered"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryProviderRegistered) ContractEventName() string {
	return ComputeRegistryProviderRegisteredEventName
}

// UnpackProviderRegisteredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ProviderRegistered(address indexed provider)
func (computeRegistry *ComputeRegistry) UnpackProviderRegisteredEvent(log *types.Log) (*ComputeRegistryProviderRegistered, error) {
	event := "ProviderRegistered"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryProviderRegistered)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistrySlashed represents a Slashed event raised by the ComputeRegistry contract.
type ComputeRegistrySlashed struct {
	Provider    common.Address
	Amount      *big.Int
	Beneficiary common.Address
	By          common.Address
	Raw         *types.Log // Blockchain specific contextual infos
}

const ComputeRegistrySlashedEventName = "Slashed"

// ContractEventName returns the user-defined event name.
func (ComputeRegistrySlashed) ContractEventName() string {
	return ComputeRegistrySlashedEventName
}

// UnpackSlashedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Slashed(address indexed provider, uint256 amount, address indexed beneficiary, address indexed by)
func (computeRegistry *ComputeRegistry) UnpackSlashedEvent(log *types.Log) (*ComputeRegistrySlashed, error) {
	event := "Slashed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistrySlashed)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistrySlasherSet represents a SlasherSet event raised by the ComputeRegistry contract.
type ComputeRegistrySlasherSet struct {
	Account common.Address
	Enabled bool
	Raw     *types.Log // Blockchain specific contextual infos
}

const ComputeRegistrySlasherSetEventName = "SlasherSet"

// ContractEventName returns the user-defined event name.
func (ComputeRegistrySlasherSet) ContractEventName() string {
	return ComputeRegistrySlasherSetEventName
}

// UnpackSlasherSetEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event SlasherSet(address indexed account, bool enabled)
func (computeRegistry *ComputeRegistry) UnpackSlasherSetEvent(log *types.Log) (*ComputeRegistrySlasherSet, error) {
	event := "SlasherSet"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistrySlasherSet)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryStakeParamsSet represents a StakeParamsSet event raised by the ComputeRegistry contract.
type ComputeRegistryStakeParamsSet struct {
	MinStakePerNode *big.Int
	UnbondingPeriod uint64
	Raw             *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryStakeParamsSetEventName = "StakeParamsSet"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryStakeParamsSet) ContractEventName() string {
	return ComputeRegistryStakeParamsSetEventName
}

// UnpackStakeParamsSetEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event StakeParamsSet(uint256 minStakePerNode, uint64 unbondingPeriod)
func (computeRegistry *ComputeRegistry) UnpackStakeParamsSetEvent(log *types.Log) (*ComputeRegistryStakeParamsSet, error) {
	event := "StakeParamsSet"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryStakeParamsSet)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryStaked represents a Staked event raised by the ComputeRegistry contract.
type ComputeRegistryStaked struct {
	Provider common.Address
	Amount   *big.Int
	Total    *big.Int
	Raw      *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryStakedEventName = "Staked"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryStaked) ContractEventName() string {
	return ComputeRegistryStakedEventName
}

// UnpackStakedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Staked(address indexed provider, uint256 amount, uint256 total)
func (computeRegistry *ComputeRegistry) UnpackStakedEvent(log *types.Log) (*ComputeRegistryStaked, error) {
	event := "Staked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryStaked)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryUnstakeRequested represents a UnstakeRequested event raised by the ComputeRegistry contract.
type ComputeRegistryUnstakeRequested struct {
	Provider  common.Address
	Amount    *big.Int
	ReleaseAt uint64
	Raw       *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryUnstakeRequestedEventName = "UnstakeRequested"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryUnstakeRequested) ContractEventName() string {
	return ComputeRegistryUnstakeRequestedEventName
}

// UnpackUnstakeRequestedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event UnstakeRequested(address indexed provider, uint256 amount, uint64 releaseAt)
func (computeRegistry *ComputeRegistry) UnpackUnstakeRequestedEvent(log *types.Log) (*ComputeRegistryUnstakeRequested, error) {
	event := "UnstakeRequested"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryUnstakeRequested)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryValidatorSet represents a ValidatorSet event raised by the ComputeRegistry contract.
type ComputeRegistryValidatorSet struct {
	Account common.Address
	Enabled bool
	Raw     *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryValidatorSetEventName = "ValidatorSet"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryValidatorSet) ContractEventName() string {
	return ComputeRegistryValidatorSetEventName
}

// UnpackValidatorSetEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ValidatorSet(address indexed account, bool enabled)
func (computeRegistry *ComputeRegistry) UnpackValidatorSetEvent(log *types.Log) (*ComputeRegistryValidatorSet, error) {
	event := "ValidatorSet"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryValidatorSet)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ComputeRegistryWithdrawn represents a Withdrawn event raised by the ComputeRegistry contract.
type ComputeRegistryWithdrawn struct {
	Provider common.Address
	Amount   *big.Int
	Raw      *types.Log // Blockchain specific contextual infos
}

const ComputeRegistryWithdrawnEventName = "Withdrawn"

// ContractEventName returns the user-defined event name.
func (ComputeRegistryWithdrawn) ContractEventName() string {
	return ComputeRegistryWithdrawnEventName
}

// UnpackWithdrawnEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Withdrawn(address indexed provider, uint256 amount)
func (computeRegistry *ComputeRegistry) UnpackWithdrawnEvent(log *types.Log) (*ComputeRegistryWithdrawn, error) {
	event := "Withdrawn"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != computeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ComputeRegistryWithdrawn)
	if len(log.Data) > 0 {
		if err := computeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range computeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (computeRegistry *ComputeRegistry) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["InsufficientStake"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackInsufficientStakeError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["NodeAlreadyRegistered"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackNodeAlreadyRegisteredError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["NodeNotRegistered"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackNodeNotRegisteredError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["NotNodeProvider"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackNotNodeProviderError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["NotSlasher"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackNotSlasherError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["NothingToWithdraw"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackNothingToWithdrawError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["OwnableInvalidOwner"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackOwnableInvalidOwnerError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["OwnableUnauthorizedAccount"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackOwnableUnauthorizedAccountError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["ProviderAlreadyRegistered"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackProviderAlreadyRegisteredError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["ProviderNotRegistered"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackProviderNotRegisteredError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["SafeERC20FailedOperation"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackSafeERC20FailedOperationError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["SlashExceedsStake"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackSlashExceedsStakeError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["TooManyUnbonds"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackTooManyUnbondsError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackZeroAddressError(raw[4:])
	}
	if bytes.Equal(raw[:4], computeRegistry.abi.Errors["ZeroAmount"].ID.Bytes()[:4]) {
		return computeRegistry.UnpackZeroAmountError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// ComputeRegistryInsufficientStake represents a InsufficientStake error raised by the ComputeRegistry contract.
type ComputeRegistryInsufficientStake struct {
	Remaining *big.Int
	Required  *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InsufficientStake(uint256 remaining, uint256 required)
func ComputeRegistryInsufficientStakeErrorID() common.Hash {
	return common.HexToHash("0x45be0a261a88f9fedc41221879f08865d5e8d6053c877967e6e8e39e5697e6d5")
}

// UnpackInsufficientStakeError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InsufficientStake(uint256 remaining, uint256 required)
func (computeRegistry *ComputeRegistry) UnpackInsufficientStakeError(raw []byte) (*ComputeRegistryInsufficientStake, error) {
	out := new(ComputeRegistryInsufficientStake)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "InsufficientStake", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryNodeAlreadyRegistered represents a NodeAlreadyRegistered error raised by the ComputeRegistry contract.
type ComputeRegistryNodeAlreadyRegistered struct {
	Node common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NodeAlreadyRegistered(address node)
func ComputeRegistryNodeAlreadyRegisteredErrorID() common.Hash {
	return common.HexToHash("0x295548e5f95c1be9744644c67f44b86583e03d913f6613aa5b61cffe764a4e9d")
}

// UnpackNodeAlreadyRegisteredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NodeAlreadyRegistered(address node)
func (computeRegistry *ComputeRegistry) UnpackNodeAlreadyRegisteredError(raw []byte) (*ComputeRegistryNodeAlreadyRegistered, error) {
	out := new(ComputeRegistryNodeAlreadyRegistered)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "NodeAlreadyRegistered", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryNodeNotRegistered represents a NodeNotRegistered error raised by the ComputeRegistry contract.
type ComputeRegistryNodeNotRegistered struct {
	Node common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NodeNotRegistered(address node)
func ComputeRegistryNodeNotRegisteredErrorID() common.Hash {
	return common.HexToHash("0x9c3baaedcd13945050d2520b64ddd7584df0bce7a1e1a5e0b36ed0f5159bb7af")
}

// UnpackNodeNotRegisteredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NodeNotRegistered(address node)
func (computeRegistry *ComputeRegistry) UnpackNodeNotRegisteredError(raw []byte) (*ComputeRegistryNodeNotRegistered, error) {
	out := new(ComputeRegistryNodeNotRegistered)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "NodeNotRegistered", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryNotNodeProvider represents a NotNodeProvider error raised by the ComputeRegistry contract.
type ComputeRegistryNotNodeProvider struct {
	Node   common.Address
	Caller common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotNodeProvider(address node, address caller)
func ComputeRegistryNotNodeProviderErrorID() common.Hash {
	return common.HexToHash("0x141f878496ab3e21b77f101a903322703ad2162e5138356c03902da6fbf7e935")
}

// UnpackNotNodeProviderError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotNodeProvider(address node, address caller)
func (computeRegistry *ComputeRegistry) UnpackNotNodeProviderError(raw []byte) (*ComputeRegistryNotNodeProvider, error) {
	out := new(ComputeRegistryNotNodeProvider)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "NotNodeProvider", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryNotSlasher represents a NotSlasher error raised by the ComputeRegistry contract.
type ComputeRegistryNotSlasher struct {
	Caller common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotSlasher(address caller)
func ComputeRegistryNotSlasherErrorID() common.Hash {
	return common.HexToHash("0x4bc0cd76e5ae33e138f3b6102c7a4d91ece10c34862bde6e59a763ba1571b395")
}

// UnpackNotSlasherError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotSlasher(address caller)
func (computeRegistry *ComputeRegistry) UnpackNotSlasherError(raw []byte) (*ComputeRegistryNotSlasher, error) {
	out := new(ComputeRegistryNotSlasher)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "NotSlasher", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryNothingToWithdraw represents a NothingToWithdraw error raised by the ComputeRegistry contract.
type ComputeRegistryNothingToWithdraw struct {
	NextReleaseAt uint64
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NothingToWithdraw(uint64 nextReleaseAt)
func ComputeRegistryNothingToWithdrawErrorID() common.Hash {
	return common.HexToHash("0x1ca93f3f89f2cf1bcba05bbcf7f92199e287e2faff71082728b0a6b08a267cfd")
}

// UnpackNothingToWithdrawError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NothingToWithdraw(uint64 nextReleaseAt)
func (computeRegistry *ComputeRegistry) UnpackNothingToWithdrawError(raw []byte) (*ComputeRegistryNothingToWithdraw, error) {
	out := new(ComputeRegistryNothingToWithdraw)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "NothingToWithdraw", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryOwnableInvalidOwner represents a OwnableInvalidOwner error raised by the ComputeRegistry contract.
type ComputeRegistryOwnableInvalidOwner struct {
	Owner common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error OwnableInvalidOwner(address owner)
func ComputeRegistryOwnableInvalidOwnerErrorID() common.Hash {
	return common.HexToHash("0x1e4fbdf7f3ef8bcaa855599e3abf48b232380f183f08f6f813d9ffa5bd585188")
}

// UnpackOwnableInvalidOwnerError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error OwnableInvalidOwner(address owner)
func (computeRegistry *ComputeRegistry) UnpackOwnableInvalidOwnerError(raw []byte) (*ComputeRegistryOwnableInvalidOwner, error) {
	out := new(ComputeRegistryOwnableInvalidOwner)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "OwnableInvalidOwner", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryOwnableUnauthorizedAccount represents a OwnableUnauthorizedAccount error raised by the ComputeRegistry contract.
type ComputeRegistryOwnableUnauthorizedAccount struct {
	Account common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error OwnableUnauthorizedAccount(address account)
func ComputeRegistryOwnableUnauthorizedAccountErrorID() common.Hash {
	return common.HexToHash("0x118cdaa7a341953d1887a2245fd6665d741c67c8c50581daa59e1d03373fa188")
}

// UnpackOwnableUnauthorizedAccountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error OwnableUnauthorizedAccount(address account)
func (computeRegistry *ComputeRegistry) UnpackOwnableUnauthorizedAccountError(raw []byte) (*ComputeRegistryOwnableUnauthorizedAccount, error) {
	out := new(ComputeRegistryOwnableUnauthorizedAccount)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "OwnableUnauthorizedAccount", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryProviderAlreadyRegistered represents a ProviderAlreadyRegistered error raised by the ComputeRegistry contract.
type ComputeRegistryProviderAlreadyRegistered struct {
	Provider common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ProviderAlreadyRegistered(address provider)
func ComputeRegistryProviderAlreadyRegisteredErrorID() common.Hash {
	return common.HexToHash("0x74f7822ae2ddb345b83e71e6ece2214cc99d928fe6eacec093435111003755f0")
}

// UnpackProviderAlreadyRegisteredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ProviderAlreadyRegistered(address provider)
func (computeRegistry *ComputeRegistry) UnpackProviderAlreadyRegisteredError(raw []byte) (*ComputeRegistryProviderAlreadyRegistered, error) {
	out := new(ComputeRegistryProviderAlreadyRegistered)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "ProviderAlreadyRegistered", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryProviderNotRegistered represents a ProviderNotRegistered error raised by the ComputeRegistry contract.
type ComputeRegistryProviderNotRegistered struct {
	Provider common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ProviderNotRegistered(address provider)
func ComputeRegistryProviderNotRegisteredErrorID() common.Hash {
	return common.HexToHash("0x232cb27a4b9e96657e43917628f0b0ddd34885ba8495a2108b78da7512210fb9")
}

// UnpackProviderNotRegisteredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ProviderNotRegistered(address provider)
func (computeRegistry *ComputeRegistry) UnpackProviderNotRegisteredError(raw []byte) (*ComputeRegistryProviderNotRegistered, error) {
	out := new(ComputeRegistryProviderNotRegistered)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "ProviderNotRegistered", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistrySafeERC20FailedOperation represents a SafeERC20FailedOperation error raised by the ComputeRegistry contract.
type ComputeRegistrySafeERC20FailedOperation struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SafeERC20FailedOperation(address token)
func ComputeRegistrySafeERC20FailedOperationErrorID() common.Hash {
	return common.HexToHash("0x5274afe73c98b4749fc91ffae6b7b574e7842cb2144a159e9377a5f20b32edf9")
}

// UnpackSafeERC20FailedOperationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SafeERC20FailedOperation(address token)
func (computeRegistry *ComputeRegistry) UnpackSafeERC20FailedOperationError(raw []byte) (*ComputeRegistrySafeERC20FailedOperation, error) {
	out := new(ComputeRegistrySafeERC20FailedOperation)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "SafeERC20FailedOperation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistrySlashExceedsStake represents a SlashExceedsStake error raised by the ComputeRegistry contract.
type ComputeRegistrySlashExceedsStake struct {
	Amount    *big.Int
	Available *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SlashExceedsStake(uint256 amount, uint256 available)
func ComputeRegistrySlashExceedsStakeErrorID() common.Hash {
	return common.HexToHash("0x66ccfd069d94cafbbe2192bc54effacbf71a1b724647b29a5ca5abff0e9e0ede")
}

// UnpackSlashExceedsStakeError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SlashExceedsStake(uint256 amount, uint256 available)
func (computeRegistry *ComputeRegistry) UnpackSlashExceedsStakeError(raw []byte) (*ComputeRegistrySlashExceedsStake, error) {
	out := new(ComputeRegistrySlashExceedsStake)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "SlashExceedsStake", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryTooManyUnbonds represents a TooManyUnbonds error raised by the ComputeRegistry contract.
type ComputeRegistryTooManyUnbonds struct {
	Pending *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error TooManyUnbonds(uint256 pending)
func ComputeRegistryTooManyUnbondsErrorID() common.Hash {
	return common.HexToHash("0xdb934be00ace625731486b9b9403dc285b5fe57c2c0c5cb8dabb2e13502b52a7")
}

// UnpackTooManyUnbondsError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error TooManyUnbonds(uint256 pending)
func (computeRegistry *ComputeRegistry) UnpackTooManyUnbondsError(raw []byte) (*ComputeRegistryTooManyUnbonds, error) {
	out := new(ComputeRegistryTooManyUnbonds)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "TooManyUnbonds", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryZeroAddress represents a ZeroAddress error raised by the ComputeRegistry contract.
type ComputeRegistryZeroAddress struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAddress()
func ComputeRegistryZeroAddressErrorID() common.Hash {
	return common.HexToHash("0xd92e233df2717d4a40030e20904abd27b68fcbeede117eaaccbbdac9618c8c73")
}

// UnpackZeroAddressError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAddress()
func (computeRegistry *ComputeRegistry) UnpackZeroAddressError(raw []byte) (*ComputeRegistryZeroAddress, error) {
	out := new(ComputeRegistryZeroAddress)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "ZeroAddress", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ComputeRegistryZeroAmount represents a ZeroAmount error raised by the ComputeRegistry contract.
type ComputeRegistryZeroAmount struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAmount()
func ComputeRegistryZeroAmountErrorID() common.Hash {
	return common.HexToHash("0x1f2a2005cb66a8e145327e8814e243a0996aec9bfe1e15a495778b1236dbd485")
}

// UnpackZeroAmountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAmount()
func (computeRegistry *ComputeRegistry) UnpackZeroAmountError(raw []byte) (*ComputeRegistryZeroAmount, error) {
	out := new(ComputeRegistryZeroAmount)
	if err := computeRegistry.abi.UnpackIntoInterface(out, "ZeroAmount", raw); err != nil {
		return nil, err
	}
	return out, nil
}
