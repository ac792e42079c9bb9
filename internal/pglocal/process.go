package pglocal

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// deathSignal is what the kernel sends postgres when its parent dies (Linux).
// SIGQUIT is Postgres's immediate shutdown: the postmaster makes every child
// quit and exits within milliseconds, and the next start replays the WAL, so
// the data directory stays consistent and every transaction committed in
// Durable mode survives. SIGKILL would orphan the backends, which keep the
// shared memory attached for a while (the next start then fails with
// "pre-existing shared memory block is still in use") and leave lock files
// behind; SIGINT (fast shutdown) writes a checkpoint first, which can take long
// with nobody left to wait for it, and an immediate restart would find the old
// server still running.
const deathSignal = syscall.SIGQUIT

// process is a started child. Its goroutine keeps the OS thread that forked it
// for as long as it runs: the kernel sends the parent-death signal when that
// thread exits, not the process (go.dev/issue/27505), and Go may end a thread
// any time a goroutine locked to it returns.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// runProcess runs cmd to completion, killing it if ctx ends first.
func runProcess(ctx context.Context, cmd *exec.Cmd) error {
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		_ = p.signal(os.Kill)
		<-p.done
		return ctx.Err()
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait reports whether the process exited within d.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}
