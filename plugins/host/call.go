package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// crashGrace is how long a call that lost its connection waits to learn
// whether the process died, so it can say "crashed" rather than pass on a
// transport error. A dead process is noticed within milliseconds.
const crashGrace = 2 * time.Second

// client is the sdk.Plugin handed out by Get: one process, with a deadline
// and a call slot for every call.
type client struct {
	h    *Host
	inst *instance
}

var _ sdk.Plugin = (*client)(nil)

func call[T any](ctx context.Context, c *client, op string, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	h, inst := c.h, c.inst
	if h.closed.Load() {
		return zero, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	fail := func(err error) (T, error) {
		return zero, fmt.Errorf("host: %s %s: %w", inst.name(), op, err)
	}

	select {
	case inst.calls <- struct{}{}:
	case <-inst.reaped:
		return fail(h.goneErr(inst))
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(fmt.Errorf("%w: all %d call slots stayed taken: %w", ErrBusy, cap(inst.calls), ctx.Err()))
		}
		return fail(ctx.Err())
	}
	defer func() { <-inst.calls }()

	if err := h.begin(inst); err != nil {
		return fail(err)
	}
	began := time.Now()
	out, err := fn(ctx)
	err = h.end(ctx, inst, err)
	h.metrics.called(ctx, inst.key, op, time.Since(began), err)
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// begin counts a call in flight, unless inst no longer takes calls.
func (h *Host) begin(inst *instance) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed.Load():
		return ErrClosed
	case inst.crashErr != nil:
		return inst.crashErr
	case inst.stopping:
		return ErrStopped
	}
	inst.inflight++
	inst.lastUsed = time.Now()
	return nil
}

// end counts the call out and classifies its error: crash, timeout, or the
// plugin's own answer.
func (h *Host) end(ctx context.Context, inst *instance, err error) error {
	if err != nil && status.Code(err) == codes.Unavailable && ctx.Err() == nil {
		// The connection broke: most likely the process died.
		select {
		case <-inst.reaped:
		case <-time.After(crashGrace):
		}
	}
	h.mu.Lock()
	inst.inflight--
	inst.lastUsed = time.Now()
	if inst.inflight == 0 {
		h.broadcastLocked()
	}
	crashErr := inst.crashErr
	if err == nil {
		inst.slot.succeedLocked(inst.version)
	}
	h.mu.Unlock()

	switch {
	case err == nil:
		return nil
	case crashErr != nil:
		return fmt.Errorf("%w: %w", crashErr, err)
	case h.closed.Load():
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// goneErr says why a process that exited takes no calls.
func (h *Host) goneErr(inst *instance) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed.Load():
		return ErrClosed
	case inst.crashErr != nil:
		return inst.crashErr
	}
	return ErrStopped
}

func (c *client) Describe(ctx context.Context) (sdk.Description, error) {
	return call(ctx, c, "describe", c.inst.plugin.Describe)
}

func (c *client) Configure(ctx context.Context, req sdk.ConfigureRequest) error {
	_, err := call(ctx, c, "configure", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.inst.plugin.Configure(ctx, req)
	})
	return err
}

func (c *client) LookupUser(ctx context.Context, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	return call(ctx, c, "lookup user", func(ctx context.Context) (sdk.LookupUserResponse, error) {
		return c.inst.plugin.LookupUser(ctx, req)
	})
}

func (c *client) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	return call(ctx, c, "fulfil", func(ctx context.Context) (sdk.Result, error) {
		return c.inst.plugin.Fulfil(ctx, req)
	})
}

func (c *client) Reverse(ctx context.Context, req sdk.ReverseRequest) (sdk.Result, error) {
	return call(ctx, c, "reverse", func(ctx context.Context) (sdk.Result, error) {
		return c.inst.plugin.Reverse(ctx, req)
	})
}
