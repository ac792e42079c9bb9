package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The binary cache: CacheDir/<sha256>, mode 0555 in a 0711 directory, so
// every plugin user can exec its binary without listing the others.

// binary returns the path of the cached executable for sha, fetching it
// first if it is not cached, and pins it: the cache keeps it until unpin.
// One fetch per binary at a time (others wait for it), at most MaxFetches
// at once, each streamed to disk.
func (h *Host) binary(ctx context.Context, sha string) (string, error) {
	path := filepath.Join(h.cfg.CacheDir, sha)
	for {
		h.mu.Lock()
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
			h.pins[sha]++
			h.mu.Unlock()
			// The mtime says when it was last used, for pruneCache.
			now := time.Now()
			_ = os.Chtimes(path, now, now)
			return path, nil // verified again right before exec
		}
		if wait, ok := h.fetching[sha]; ok {
			h.mu.Unlock()
			select {
			case <-wait:
				continue // cached now, or failed: then try ourselves
			case <-ctx.Done():
				return "", h.ctxErr(ctx, "waiting for the plugin binary")
			}
		}
		done := make(chan struct{})
		h.fetching[sha] = done
		h.mu.Unlock()

		n, err := h.fetch(ctx, sha, path)
		h.mu.Lock()
		delete(h.fetching, sha)
		close(done)
		if err == nil {
			h.pins[sha]++
		}
		h.mu.Unlock()
		if err != nil {
			return "", err
		}
		h.log.InfoContext(ctx, "plugin binary cached", "sha256", sha, "bytes", n)
		return path, nil
	}
}

// unpin releases binary's pin.
func (h *Host) unpin(sha string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unpinLocked(sha)
}

func (h *Host) unpinLocked(sha string) {
	if h.pins[sha]--; h.pins[sha] <= 0 {
		delete(h.pins, sha)
	}
}

// fetch streams sha's bytes from the source into a temporary file in the
// cache, checks their hash and renames it to path, so nobody ever sees (or
// executes) a partial or wrong file.
func (h *Host) fetch(ctx context.Context, sha, path string) (int64, error) {
	select {
	case h.fetches <- struct{}{}:
	case <-ctx.Done():
		return 0, h.ctxErr(ctx, "waiting for a plugin binary fetch slot")
	}
	defer func() { <-h.fetches }()

	tmp, err := os.CreateTemp(h.cfg.CacheDir, ".tmp-"+sha+"-*")
	if err != nil {
		return 0, fmt.Errorf("%w: cache %s: %w", ErrStart, sha, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op once renamed
	defer func() { _ = tmp.Close() }()           // no-op once closed

	hash := sha256.New()
	w := io.MultiWriter(tmp, hash)
	var n int64
	if ws, ok := h.src.(BlobWriter); ok {
		n, err = ws.WriteBlob(ctx, sha, w)
	} else {
		var blob []byte
		if blob, err = h.src.Blob(ctx, sha); err == nil {
			var m int
			m, err = w.Write(blob)
			n = int64(m)
		}
	}
	if err != nil {
		return n, fmt.Errorf("%w: fetch %s: %w", ErrStart, sha, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sha {
		return n, fmt.Errorf("%w: fetched %d bytes for %s hash to %s", ErrChecksum, n, sha, got)
	}
	if err := commit(tmp, path); err != nil {
		return n, fmt.Errorf("%w: cache %s: %w", ErrStart, sha, err)
	}
	return n, nil
}

// commit makes the written tmp durable, read-and-exec only, and renames it
// to path.
func commit(tmp *os.File, path string) error {
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o555); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// pruneCache removes cached binaries not used for CacheTTL (by mtime, which
// binary refreshes on every use) and not pinned by a process starting,
// running or probing, and temporary files a crash left behind. Under mu,
// so no binary is pinned or fetched meanwhile.
func (h *Host) pruneCache() {
	entries, err := os.ReadDir(h.cfg.CacheDir)
	if err != nil {
		h.log.Warn("plugin cache not pruned", "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var removed []string
	for _, e := range entries {
		name := e.Name()
		sha := name
		if tmp := strings.HasPrefix(name, ".tmp-"); tmp {
			sha, _, _ = strings.Cut(strings.TrimPrefix(name, ".tmp-"), "-")
			if _, busy := h.fetching[sha]; busy {
				continue
			}
		} else if !sha256Syntax.MatchString(name) || h.pins[sha] > 0 {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < h.cfg.CacheTTL {
			continue
		}
		if err := os.Remove(filepath.Join(h.cfg.CacheDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.log.Warn("plugin cache file not removed", "file", name, "err", err)
			continue
		}
		removed = append(removed, name)
	}
	if len(removed) > 0 {
		h.log.Info("plugin cache pruned", "removed", removed)
	}
}

// pruneCacheEvery prunes every CacheTTL/4, at most hourly, until Close.
func (h *Host) pruneCacheEvery() {
	t := time.NewTicker(min(max(h.cfg.CacheTTL/4, 10*time.Millisecond), time.Hour))
	defer t.Stop()
	for {
		select {
		case <-h.closing.Done():
			return
		case <-t.C:
			h.pruneCache()
		}
	}
}
