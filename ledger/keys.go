package ledger

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
)

// KeystoreDir is where a data directory keeps its Ethereum key, next to
// the libp2p identity, in go-ethereum's keystore format.
func KeystoreDir(dataDir string) string { return filepath.Join(dataDir, "keystore") }

// KeyOption configures key creation.
type KeyOption func(*keyConfig)

type keyConfig struct{ scryptN, scryptP int }

// WithLightScrypt uses go-ethereum's light scrypt parameters (fast, for
// tests and throwaway dev keys) instead of the standard ones.
func WithLightScrypt() KeyOption {
	return func(c *keyConfig) { c.scryptN, c.scryptP = keystore.LightScryptN, keystore.LightScryptP }
}

// keyFiles lists the keystore's key files with their addresses, sorted by
// file name (creation time first).
func keyFiles(dir string) ([]string, []common.Address, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: read keystore: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var files []string
	var addrs []common.Address
	for _, e := range entries {
		if e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("ledger: read key file: %w", err)
		}
		var k struct {
			Address string `json:"address"`
		}
		if json.Unmarshal(b, &k) != nil || !common.IsHexAddress(k.Address) {
			continue // not a key file
		}
		files = append(files, p)
		addrs = append(addrs, common.HexToAddress(k.Address))
	}
	return files, addrs, nil
}

// CreateKey creates a new key in dir encrypted with passphrase. It never
// overwrites: if dir already holds a key it returns ErrKeyExists.
func CreateKey(dir, passphrase string, opts ...KeyOption) (common.Address, error) {
	cfg := keyConfig{scryptN: keystore.StandardScryptN, scryptP: keystore.StandardScryptP}
	for _, o := range opts {
		o(&cfg)
	}
	_, addrs, err := keyFiles(dir)
	if err != nil {
		return common.Address{}, err
	}
	if len(addrs) > 0 {
		return addrs[0], fmt.Errorf("ledger: %s already holds key %s: %w", dir, addrs[0], ErrKeyExists)
	}
	if passphrase == "" {
		return common.Address{}, fmt.Errorf("ledger: empty passphrase: %w", ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return common.Address{}, fmt.Errorf("ledger: create keystore: %w", err)
	}
	acc, err := keystore.StoreKey(dir, passphrase, cfg.scryptN, cfg.scryptP)
	if err != nil {
		return common.Address{}, fmt.Errorf("ledger: create key: %w", err)
	}
	return acc.Address, nil
}

// KeyAddress returns the address of the key in dir without decrypting it.
func KeyAddress(dir string) (common.Address, error) {
	_, addrs, err := keyFiles(dir)
	if err != nil {
		return common.Address{}, err
	}
	if len(addrs) == 0 {
		return common.Address{}, fmt.Errorf("ledger: %s: %w (create one with `openpool ledger key create`)", dir, ErrNoKey)
	}
	return addrs[0], nil
}

// LoadKey decrypts the (first) key in dir.
func LoadKey(dir, passphrase string) (*ecdsa.PrivateKey, error) {
	files, addrs, err := keyFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("ledger: %s: %w (create one with `openpool ledger key create`)", dir, ErrNoKey)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return nil, fmt.Errorf("ledger: read key: %w", err)
	}
	k, err := keystore.DecryptKey(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("ledger: decrypt key %s: %w", addrs[0], err)
	}
	return k.PrivateKey, nil
}

// LoadOrCreateKey decrypts the key in dir, creating one first if there is
// none. created reports whether a new key was made.
func LoadOrCreateKey(dir, passphrase string, opts ...KeyOption) (key *ecdsa.PrivateKey, created bool, err error) {
	_, addrs, err := keyFiles(dir)
	if err != nil {
		return nil, false, err
	}
	if len(addrs) == 0 {
		if _, err := CreateKey(dir, passphrase, opts...); err != nil {
			return nil, false, err
		}
		created = true
	}
	key, err = LoadKey(dir, passphrase)
	return key, created, err
}
