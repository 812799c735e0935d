package ledger_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger"
)

func TestKeystore(t *testing.T) {
	dir := ledger.KeystoreDir(t.TempDir())
	if _, err := ledger.KeyAddress(dir); !errors.Is(err, ledger.ErrNoKey) {
		t.Fatalf("empty keystore: %v", err)
	}
	if _, err := ledger.CreateKey(dir, "", ledger.WithLightScrypt()); !errors.Is(err, ledger.ErrInvalidArgument) {
		t.Fatalf("empty passphrase accepted: %v", err)
	}
	addr, err := ledger.CreateKey(dir, "pw", ledger.WithLightScrypt())
	if err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("%d key files", len(files))
	}
	before, _ := os.ReadFile(filepath.Join(dir, files[0].Name()))
	// Never overwrite.
	if got, err := ledger.CreateKey(dir, "other", ledger.WithLightScrypt()); !errors.Is(err, ledger.ErrKeyExists) || got != addr {
		t.Fatalf("second create: %s, %v", got, err)
	}
	key, created, err := ledger.LoadOrCreateKey(dir, "pw", ledger.WithLightScrypt())
	if err != nil || created {
		t.Fatalf("load existing: created=%v err=%v", created, err)
	}
	if crypto.PubkeyToAddress(key.PublicKey) != addr {
		t.Fatal("loaded a different key")
	}
	after, _ := os.ReadFile(filepath.Join(dir, files[0].Name()))
	if string(before) != string(after) {
		t.Fatal("key file changed")
	}
	if _, err := ledger.LoadKey(dir, "wrong"); err == nil {
		t.Fatal("wrong passphrase accepted")
	}
	if got, _ := ledger.KeyAddress(dir); got != addr {
		t.Fatalf("KeyAddress %s, want %s", got, addr)
	}
	// Only read/write for the owner.
	if st, _ := os.Stat(filepath.Join(dir, files[0].Name())); st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("key file mode %v", st.Mode())
	}
}
