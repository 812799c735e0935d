package ledger

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/openpool/openpool/ledger/bindings"
)

// Sentinel errors callers branch on. A contract revert comes back as a
// *RevertError that wraps ErrReverted and, where the custom error has one,
// the sentinel below, so errors.Is(err, ledger.ErrAlreadyInPool) works.
var (
	ErrReverted              = errors.New("transaction reverted")
	ErrNodeNotStaked         = errors.New("node is not registered or its provider's stake is below the minimum")
	ErrAlreadyInPool         = errors.New("node is already in the pool")
	ErrNotInPool             = errors.New("node is not in the pool")
	ErrInviteExpired         = errors.New("invite expired")
	ErrInviteUsed            = errors.New("invite already used")
	ErrInvalidInvite         = errors.New("invite not signed by the pool owner")
	ErrSlashExceedsStake     = errors.New("slash amount exceeds the provider's stake")
	ErrNothingToClaim        = errors.New("nothing to claim")
	ErrNothingToWithdraw     = errors.New("nothing to withdraw yet (unbonding not over)")
	ErrInsufficientStake     = errors.New("insufficient stake")
	ErrTooManyUnbonds        = errors.New("too many pending unbonds")
	ErrUnauthorized          = errors.New("caller is not allowed to do this")
	ErrValidationWindowOver  = errors.New("validation window closed")
	ErrWorkExists            = errors.New("work already submitted")
	ErrWorkNotFound          = errors.New("work not found")
	ErrWorkInvalidated       = errors.New("work already invalidated")
	ErrPoolNotFound          = errors.New("pool not found")
	ErrDomainNotFound        = errors.New("domain not found")
	ErrNotRegistered         = errors.New("not registered")
	ErrAlreadyRegistered     = errors.New("already registered")
	ErrInsufficientFunds     = errors.New("insufficient funds")
	ErrInvalidArgument       = errors.New("invalid argument")
	ErrChainIDMismatch       = errors.New("chain ID does not match the endpoint")
	ErrNoDeployment          = errors.New("no ledger deployment")
	ErrKeyExists             = errors.New("a key already exists")
	ErrNoKey                 = errors.New("no key in keystore")
	ErrTransactionNotMined   = errors.New("transaction not mined")
	errUnknownRevertSelector = errors.New("unknown revert selector")
)

// sentinelByError maps Solidity custom error names (ours and
// OpenZeppelin's) to the sentinel they wrap.
var sentinelByError = map[string]error{
	"NodeNotStaked":              ErrNodeNotStaked,
	"AlreadyInPool":              ErrAlreadyInPool,
	"NotInPool":                  ErrNotInPool,
	"InviteExpired":              ErrInviteExpired,
	"InviteAlreadyUsed":          ErrInviteUsed,
	"InvalidInviteSigner":        ErrInvalidInvite,
	"SlashExceedsStake":          ErrSlashExceedsStake,
	"NothingToClaim":             ErrNothingToClaim,
	"NothingToWithdraw":          ErrNothingToWithdraw,
	"InsufficientStake":          ErrInsufficientStake,
	"TooManyUnbonds":             ErrTooManyUnbonds,
	"NotPoolOwner":               ErrUnauthorized,
	"NotNodeProvider":            ErrUnauthorized,
	"NotValidator":               ErrUnauthorized,
	"NotSlasher":                 ErrUnauthorized,
	"OwnableUnauthorizedAccount": ErrUnauthorized,
	"ValidationWindowClosed":     ErrValidationWindowOver,
	"WorkAlreadySubmitted":       ErrWorkExists,
	"WorkNotFound":               ErrWorkNotFound,
	"WorkAlreadyInvalidated":     ErrWorkInvalidated,
	"PoolNotFound":               ErrPoolNotFound,
	"DomainNotFound":             ErrDomainNotFound,
	"ProviderNotRegistered":      ErrNotRegistered,
	"NodeNotRegistered":          ErrNotRegistered,
	"ProviderAlreadyRegistered":  ErrAlreadyRegistered,
	"NodeAlreadyRegistered":      ErrAlreadyRegistered,
	"InsufficientPoolFunds":      ErrInsufficientFunds,
	"ERC20InsufficientBalance":   ErrInsufficientFunds,
	"ERC20InsufficientAllowance": ErrInsufficientFunds,
	"ZeroAmount":                 ErrInvalidArgument,
	"ZeroAddress":                ErrInvalidArgument,
	"ZeroHash":                   ErrInvalidArgument,
	"ERC20InvalidReceiver":       ErrInvalidArgument,
	"ERC20InvalidSender":         ErrInvalidArgument,
	"OwnableInvalidOwner":        ErrInvalidArgument,
	"SafeERC20FailedOperation":   ErrInsufficientFunds,
	"ERC20InvalidApprover":       ErrInvalidArgument,
	"ERC20InvalidSpender":        ErrInvalidArgument,
	"InvalidShortString":         ErrInvalidArgument,
	"StringTooLong":              ErrInvalidArgument,
}

// RevertError is a contract revert decoded from its return data.
type RevertError struct {
	Op     string // the client operation, e.g. "join pool"
	Name   string // the Solidity error name, "Error" for require strings, "Panic" for panics
	Args   []string
	Data   []byte
	reason error
}

func (e *RevertError) Error() string {
	var b strings.Builder
	b.WriteString("ledger: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString("reverted: ")
	b.WriteString(e.Name)
	b.WriteString("(")
	b.WriteString(strings.Join(e.Args, ", "))
	b.WriteString(")")
	if e.reason != nil && e.reason != ErrReverted {
		b.WriteString(": ")
		b.WriteString(e.reason.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match both ErrReverted and the specific sentinel.
func (e *RevertError) Unwrap() []error {
	if e.reason == nil || e.reason == ErrReverted {
		return []error{ErrReverted}
	}
	return []error{ErrReverted, e.reason}
}

// revertDecoder knows the custom errors of every ledger contract.
type revertDecoder struct {
	errs map[[4]byte]abi.Error
}

func newRevertDecoder() *revertDecoder {
	d := &revertDecoder{errs: make(map[[4]byte]abi.Error)}
	for _, a := range []abi.ABI{
		bindings.NewDevStakeToken().GetABI(),
		bindings.NewComputeRegistry().GetABI(),
		bindings.NewComputePools().GetABI(),
	} {
		for _, e := range a.Errors {
			var sel [4]byte
			copy(sel[:], e.ID[:4])
			d.errs[sel] = e
		}
	}
	return d
}

// decode turns revert data into a *RevertError.
func (d *revertDecoder) decode(op string, data []byte) *RevertError {
	re := &RevertError{Op: op, Data: data, reason: ErrReverted}
	if len(data) < 4 {
		re.Name = "revert"
		return re
	}
	var sel [4]byte
	copy(sel[:], data[:4])
	if e, ok := d.errs[sel]; ok {
		re.Name = e.Name
		if s, ok := sentinelByError[e.Name]; ok {
			re.reason = s
		}
		vals, err := e.Inputs.Unpack(data[4:])
		if err != nil {
			re.Args = []string{"undecodable: " + err.Error()}
			return re
		}
		for i, v := range vals {
			re.Args = append(re.Args, e.Inputs[i].Name+"="+formatArg(v))
		}
		return re
	}
	if reason, err := abi.UnpackRevert(data); err == nil {
		if len(data) >= 4 && [4]byte(data[:4]) == [4]byte{0x4e, 0x48, 0x7b, 0x71} {
			re.Name = "Panic"
		} else {
			re.Name = "Error"
		}
		re.Args = []string{fmt.Sprintf("%q", reason)}
		return re
	}
	re.Name = "unknown"
	re.Args = []string{hexutil.Encode(data)}
	re.reason = fmt.Errorf("%w %x", errUnknownRevertSelector, data[:4])
	return re
}

func formatArg(v any) string {
	switch x := v.(type) {
	case common.Address:
		return x.Hex()
	case [32]byte:
		return hexutil.Encode(x[:])
	case *big.Int:
		return x.String()
	case []byte:
		return hexutil.Encode(x)
	default:
		return fmt.Sprint(x)
	}
}

// revertData extracts revert return data from an RPC error, if any.
func revertData(err error) ([]byte, bool) {
	var de rpc.DataError
	if !errors.As(err, &de) {
		return nil, false
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		return nil, false
	}
	b, derr := hexutil.Decode(s)
	if derr != nil {
		return nil, false
	}
	return b, true
}

// asRevert converts err into a *RevertError when it carries revert data
// (estimateGas and eth_call failures); otherwise it returns nil.
func (d *revertDecoder) asRevert(op string, err error) error {
	if err == nil {
		return nil
	}
	if data, ok := revertData(err); ok {
		return d.decode(op, data)
	}
	if strings.Contains(err.Error(), "execution reverted") {
		re := &RevertError{Op: op, Name: "revert", reason: ErrReverted}
		return re
	}
	return nil
}
