// Package plugintest helps tests in any package run real plugins: it builds
// a plugin executable once per test binary and serves executables to a
// plugins/host.Host from memory, as Postgres does in production.
//
//	bin := plugintest.Wallet(t)
//	src := plugintest.NewSource(bin)
//	h, err := host.New(host.Config{CacheDir: ..., WorkDir: ...}, src)
//	p, err := h.Get(ctx, host.Key{PartnerCode: "demo", Env: "staging", SHA256: bin.SHA256})
package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// WalletPackage is the import path of the example wallet plugin.
const WalletPackage = "github.com/partnerhub/partnerhub/plugins/examples/wallet"

// ErrNotFound is returned by Source.Blob for an unknown hash.
var ErrNotFound = errors.New("plugintest: blob not found")

// Binary is a built plugin executable.
type Binary struct {
	Bytes  []byte
	SHA256 string // hex
}

type build struct {
	once sync.Once
	bin  Binary
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// Build compiles the main package pkg (an import path inside this module)
// and returns its bytes. Each package is built once per test binary, however
// many tests ask; nothing is left on disk.
func Build(tb testing.TB, pkg string) Binary {
	tb.Helper()
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &build{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.bin, b.err = compile(context.Background(), pkg) })
	if b.err != nil {
		tb.Fatalf("plugintest: %v", b.err)
	}
	return b.bin
}

// Wallet builds the example wallet plugin (see Build).
func Wallet(tb testing.TB) Binary {
	tb.Helper()
	return Build(tb, WalletPackage)
}

// compile runs go build into a temporary directory it removes again. The
// binary is static (CGO_ENABLED=0): it must not depend on the host's libc.
func compile(ctx context.Context, pkg string) (Binary, error) {
	dir, err := os.MkdirTemp("", "plugintest-*")
	if err != nil {
		return Binary{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	out := filepath.Join(dir, "plugin")
	// go test puts its own go first in PATH, so "go" is the running toolchain.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return Binary{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, output)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return Binary{}, err
	}
	sum := sha256.Sum256(data)
	return Binary{Bytes: data, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Source is an in-memory host.BlobSource that counts fetches.
type Source struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	fetches map[string]int
}

// NewSource returns a Source serving bins under their own hashes.
func NewSource(bins ...Binary) *Source {
	s := &Source{blobs: map[string][]byte{}, fetches: map[string]int{}}
	for _, b := range bins {
		s.Put(b.SHA256, b.Bytes)
	}
	return s
}

// Put serves blob under sha256, which need not be blob's hash: that is how a
// test serves a corrupted binary.
func (s *Source) Put(sha256 string, blob []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[sha256] = blob
}

// Blob implements host.BlobSource.
func (s *Source) Blob(ctx context.Context, sha256 string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches[sha256]++
	b, ok := s.blobs[sha256]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sha256)
	}
	return b, nil
}

// Fetches reports how often sha256 was asked for.
func (s *Source) Fetches(sha256 string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[sha256]
}
