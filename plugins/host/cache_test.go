package host

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
)

// streamSource is a BlobWriter that writes in small pieces, counts the
// fetches in flight and holds each until release is closed.
type streamSource struct {
	blobs    map[string][]byte
	release  chan struct{}
	inflight atomic.Int32
	most     atomic.Int32
	fetches  atomic.Int32
}

func (s *streamSource) Blob(context.Context, string) ([]byte, error) {
	return nil, fmt.Errorf("Blob called: the host must stream")
}

func (s *streamSource) WriteBlob(ctx context.Context, sha string, w io.Writer) (int64, error) {
	s.fetches.Add(1)
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		most := s.most.Load()
		if n <= most || s.most.CompareAndSwap(most, n) {
			break
		}
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	b, ok := s.blobs[sha]
	if !ok {
		return 0, plugintest.ErrNotFound
	}
	var written int64
	for len(b) > 0 {
		m, err := w.Write(b[:min(len(b), 1000)])
		written += int64(m)
		if err != nil {
			return written, err
		}
		b = b[m:]
	}
	return written, nil
}

func TestBinaryFetchesAreStreamedBoundedAndShared(t *testing.T) {
	t.Parallel()
	src := &streamSource{blobs: map[string][]byte{}, release: make(chan struct{})}
	var shas []string
	for range 6 {
		b := make([]byte, 10_000)
		_, _ = rand.Read(b)
		sha := sha256Hex(b)
		src.blobs[sha] = b
		shas = append(shas, sha)
	}
	h := newTestHost(t, src, func(c *Config) { c.MaxFetches = 2 })

	var wg sync.WaitGroup
	errs := make(chan error, 3*len(shas))
	for _, sha := range shas {
		for range 3 { // the same binary three times: one fetch
			wg.Go(func() {
				path, err := h.binary(t.Context(), sha)
				if err == nil {
					err = verifyFile(path, sha)
				}
				errs <- err
			})
		}
	}
	require.Eventually(t, func() bool { return src.inflight.Load() == 2 }, 10*time.Second, time.Millisecond)
	close(src.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(2), src.most.Load(), "at most MaxFetches at once")
	require.Equal(t, int32(len(shas)), src.fetches.Load(), "one fetch per binary")
	h.mu.Lock()
	require.Equal(t, 3, h.pins[shas[0]])
	h.mu.Unlock()
	entries, err := os.ReadDir(h.cache)
	require.NoError(t, err)
	require.Len(t, entries, len(shas), "no temporary file left")
}

func TestPruneCacheKeepsWhatIsUsed(t *testing.T) {
	t.Parallel()
	live := plugintest.Build(t, envPluginPackage)
	unused := plugintest.Wallet(t)
	h := newTestHost(t, plugintest.NewSource(live, unused), func(c *Config) { c.CacheTTL = time.Hour })
	requireAnswers(t, h.Host, tenantKey("a", live))
	_, err := h.Probe(t.Context(), tenantKey("b", unused)) // cached, then unused
	require.NoError(t, err)
	leftover := filepath.Join(h.cache, ".tmp-"+unused.SHA256+"-123")
	require.NoError(t, os.WriteFile(leftover, []byte("partial"), 0o600))
	recent := make([]byte, 10)
	recentSHA := sha256Hex(recent)
	require.NoError(t, os.WriteFile(filepath.Join(h.cache, recentSHA), recent, 0o555))

	old := time.Now().Add(-2 * time.Hour)
	for _, f := range []string{live.SHA256, unused.SHA256, filepath.Base(leftover)} {
		require.NoError(t, os.Chtimes(filepath.Join(h.cache, f), old, old))
	}
	h.pruneCache()
	require.FileExists(t, filepath.Join(h.cache, live.SHA256), "a live process's binary stays")
	require.FileExists(t, filepath.Join(h.cache, recentSHA), "a recently used binary stays")
	require.NoFileExists(t, filepath.Join(h.cache, unused.SHA256))
	require.NoFileExists(t, leftover)

	// Once its process is gone, the binary goes too; a later use fetches it
	// again.
	requireAnswers(t, h.Host, tenantKey("a", live))
	require.NoError(t, os.Chtimes(filepath.Join(h.cache, live.SHA256), old, old))
	h.mu.Lock()
	h.stopLocked(h.slots[slotKey{"a", "staging"}].inst, "test")
	h.mu.Unlock()
	require.Eventually(t, func() bool { return h.liveCount() == 0 }, 10*time.Second, 10*time.Millisecond)
	h.pruneCache()
	require.NoFileExists(t, filepath.Join(h.cache, live.SHA256))
	requireAnswers(t, h.Host, tenantKey("a", live))
}
