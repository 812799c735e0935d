package swarmtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// onThread runs fn locked to one OS thread and returns the CPU time that
// thread spent in it: a cost that does not depend on what else the machine
// runs.
func onThread(fn func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	fn()
	return threadCPU() - t0
}

// AEADCostPerByte is the CPU time to seal and open one byte in 16 KiB
// records with AES-128-GCM, the cipher TLS 1.3 picks on CPUs with AES
// instructions: the least any encrypted transport pays per byte it moves,
// one end sealing and the other opening. Measured over 64 MiB.
func AEADCostPerByte(t testing.TB) float64 {
	t.Helper()
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	const rec, total = 16 << 10, 64 << 20
	pt := make([]byte, rec)
	ct := make([]byte, 0, rec+aead.Overhead())
	out := make([]byte, 0, rec)
	nonce := make([]byte, aead.NonceSize())
	var openErr error
	cpu := onThread(func() {
		for i := 0; i < total/rec && openErr == nil; i++ {
			nonce[0], nonce[1] = byte(i), byte(i>>8)
			ct = aead.Seal(ct[:0], nonce, pt, nil)
			out, openErr = aead.Open(out[:0], nonce, ct, nil)
		}
	})
	if openErr != nil {
		t.Fatal(openErr)
	}
	return cpu.Seconds() / total
}

// SHA256CostPerByte is the CPU time to hash one byte with SHA-256 (64 MiB
// in 1 MiB writes).
func SHA256CostPerByte(t testing.TB) float64 {
	t.Helper()
	const total = 64 << 20
	buf := make([]byte, 1<<20)
	h := sha256.New()
	cpu := onThread(func() {
		for range total / len(buf) {
			h.Write(buf)
		}
		h.Sum(nil)
	})
	return cpu.Seconds() / total
}

// EncryptedCeiling is the highest throughput ratio against raw TCP that a
// transport encrypting with AES-GCM can reach when both ends are CPU-bound
// (as on loopback): raw TCP spends tcpCPU seconds of CPU to move bytes,
// and an encrypted transport spends at least that plus sealing and opening
// them (plus extra seconds per byte, such as hashing, the caller adds).
func EncryptedCeiling(t testing.TB, tcpCPU time.Duration, bytes int64, extraPerByte float64) float64 {
	t.Helper()
	tcp := tcpCPU.Seconds()
	return tcp / (tcp + float64(bytes)*(AEADCostPerByte(t)+extraPerByte))
}
