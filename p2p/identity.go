package p2p

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFile is the name of the node's libp2p key inside the data directory.
const IdentityFile = "identity.key"

// LoadOrCreateIdentity reads the Ed25519 libp2p key from dir/identity.key, or
// creates one (mode 0600) when the file does not exist. It never overwrites an
// existing file: a key that cannot be read is an error, because a silently
// replaced key would change the node's peer ID and its on-chain identity.
func LoadOrCreateIdentity(dir string) (crypto.PrivKey, string, error) {
	path := filepath.Join(dir, IdentityFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, path, fmt.Errorf("p2p: identity %s is corrupt (move it away to create a new one): %w", path, err)
		}
		if k.Type() != crypto.Ed25519 {
			return nil, path, fmt.Errorf("p2p: identity %s: key type %v, want Ed25519", path, k.Type())
		}
		return k, path, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, path, fmt.Errorf("p2p: read identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, path, fmt.Errorf("p2p: create data directory: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, path, fmt.Errorf("p2p: generate identity: %w", err)
	}
	data, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, path, fmt.Errorf("p2p: encode identity: %w", err)
	}
	// Write to a temporary file, then hard-link it into place: the link fails
	// if another process created the key meanwhile, and we keep theirs.
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, path, fmt.Errorf("p2p: write identity: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, path, fmt.Errorf("p2p: write identity: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, path, fmt.Errorf("p2p: write identity: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, path, fmt.Errorf("p2p: write identity: %w", err)
	}
	if err := os.Link(path+".tmp", path); err != nil {
		os.Remove(path + ".tmp")
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateIdentity(dir)
		}
		return nil, path, fmt.Errorf("p2p: write identity: %w", err)
	}
	os.Remove(path + ".tmp")
	return k, path, nil
}
