package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// A change is one Fulfil or Reverse, decided against the current state:
// its answer, and the entry to record under key (none for a repeat or a
// rejection). Later changes of the same batch see the entries before them.
type change func(s *state, now time.Time) (res sdk.Result, key string, entry *applied)

type pending struct {
	fn   change
	done chan sdk.Result // buffered: the committer never waits on it
}

// do runs fn in the next batch and returns its answer once that batch is
// on disk. Calls that arrive while a batch is being written wait and go,
// together, into the next one: one file write and fsync for all of them
// (group commit), so the wallet keeps up with many concurrent credits
// while still answering only what is durable.
func (w *wallet) do(fn change) sdk.Result {
	p := pending{fn: fn, done: make(chan sdk.Result, 1)}
	w.qmu.Lock()
	w.queue = append(w.queue, p)
	w.qmu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case res := <-p.done: // the previous committer took it
		return res
	default:
	}
	w.qmu.Lock()
	batch := w.queue
	w.queue = nil
	w.qmu.Unlock()
	w.commitLocked(batch)
	return <-p.done
}

// commitLocked takes the file lock, brings the state up to date, decides
// and applies every change of batch, saves once and answers each. If the
// wallet cannot be read or saved, every change is undone and each answer
// is retry: nothing of the batch was credited. Caller holds w.mu.
func (w *wallet) commitLocked(batch []pending) {
	answer := func(res func(i int) sdk.Result) {
		for i, p := range batch {
			p.done <- res(i)
		}
	}
	retry := func(why string, err error) {
		w.log.Error(why, "error", err, "changes", len(batch))
		answer(func(int) sdk.Result { return sdk.Retry(why + ": " + err.Error()) })
	}
	release, err := w.beginLocked()
	if err != nil {
		retry("cannot read wallet", err)
		return
	}
	defer release()

	results := make([]sdk.Result, len(batch))
	var undos []func()
	undoAll := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	for i, p := range batch {
		res, key, entry := p.fn(w.state, w.now())
		results[i] = res
		if entry == nil {
			continue
		}
		undo, err := w.state.apply(key, *entry)
		if err != nil {
			undoAll()
			retry("cannot record change", err)
			return
		}
		undos = append(undos, undo)
	}
	if len(undos) > 0 {
		// The generation moves first: if this process dies between the
		// two, others merely re-read a file that did not change.
		gen, err := w.bumpGeneration()
		if err == nil {
			err = w.state.save(w.path)
		}
		if err != nil {
			undoAll()
			w.seen = stamp{} // unknown now: re-read next time
			retry("cannot save wallet", err)
			return
		}
		w.seen, err = w.stampOf(gen)
		if err != nil {
			w.seen = stamp{}
		}
	}
	answer(func(i int) sdk.Result { return results[i] })
}

// stamp identifies the wallet.json a state was read from or saved as: the
// generation counter kept in wallet.lock (every writer bumps it under the
// lock) and the file's identity, size and modification time, so that a
// change by another process is noticed even from a writer that does not
// keep the counter. The zero stamp matches nothing.
type stamp struct {
	valid   bool
	gen     uint64
	exists  bool
	ino     uint64
	size    int64
	modTime time.Time
}

// stampOf is the current stamp of wallet.json with generation gen.
func (w *wallet) stampOf(gen uint64) (stamp, error) {
	st := stamp{valid: true, gen: gen}
	fi, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return stamp{}, fmt.Errorf("wallet: stat: %w", err)
	}
	st.exists, st.size, st.modTime = true, fi.Size(), fi.ModTime()
	st.ino = inode(fi)
	return st, nil
}

// generation reads the counter in wallet.lock (0 when empty).
func (w *wallet) generation() (uint64, error) {
	buf := make([]byte, 20)
	n, err := w.lock.ReadAt(buf, 0)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("wallet: read generation: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	gen, err := strconv.ParseUint(string(bytes.TrimSpace(buf[:n])), 10, 64)
	if err != nil {
		return 0, nil // unreadable: treated as unknown, the stat still decides
	}
	return gen, nil
}

// bumpGeneration adds one to the counter in wallet.lock and returns it.
func (w *wallet) bumpGeneration() (uint64, error) {
	gen, err := w.generation()
	if err != nil {
		return 0, err
	}
	gen++
	// Fixed width: a shorter number never leaves digits of a longer one.
	if _, err := w.lock.WriteAt([]byte(fmt.Sprintf("%020d", gen)), 0); err != nil {
		return 0, fmt.Errorf("wallet: write generation: %w", err)
	}
	return gen, nil
}

// same reports whether a and b are stamps of the same wallet.json.
func (a stamp) same(b stamp) bool {
	return a.valid && b.valid && a.gen == b.gen && a.exists == b.exists && a.ino == b.ino &&
		a.size == b.size && a.modTime.Equal(b.modTime)
}
