package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// Recording budgets: an outcome is recorded even when the job's context is
// done (timeout, shutdown), within these, retrying a failed statement.
const (
	succeedBudget = 10 * time.Second
	errorBudget   = 5 * time.Second
	recordTries   = 3
)

// hostBusySnooze is how long a job waits when the plugin host, not the
// plugin, could not serve it (pool full, process stopped, host closing).
const hostBusySnooze = 2 * time.Second

// attempt is one try at a plugin call that must take effect at most once
// (a fulfil or a reverse). Fulfil and reverse share it so both follow the
// same exactly-once rules: the attempt is counted before the call, the
// plugin always gets the same idempotency key, success is recorded on the
// fulfilment record in a statement of its own (the record, not the job,
// decides: a job that runs again finds it succeeded and does nothing), a
// rejection is final and cancels the job, a transient failure is retried by
// River with backoff, and the last failed attempt marks the record failed
// for an operator. What it records, returns (River stores and logs it) and
// logs is redacted: plugin text never carries the tenant's settings.
type attempt struct {
	deps     Deps
	log      *slog.Logger
	env      tenant.Env
	p        payment.Payment
	kind     string // payment.KindFulfil or payment.KindReverse
	key      string
	try      int // River's attempt number
	maxTries int
	// job is the River job: its creation time and errors bound retries by
	// the horizon (RetryPolicy). eng records the plugin's health (breaker).
	job  *rivertype.JobRow
	eng  *engine
	call func(ctx context.Context, plugin sdk.Plugin) (sdk.Result, error)
	// begun, when set, is the record whose attempt the caller counted
	// already (payment.StartFulfil); run counts one otherwise.
	begun *payment.Fulfilment
	// batches, when set, records the success in a statement shared with
	// other workers' (fulfil_batch.go).
	batches *fulfilBatches
}

func (a attempt) run(ctx context.Context) error {
	var f payment.Fulfilment
	if a.begun != nil {
		f = *a.begun
	} else {
		var err error
		if f, err = a.deps.Payments.BeginAttempt(ctx, a.p, a.kind, a.key, a.env.ActivePluginID); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
	}
	switch f.State {
	case payment.StateSucceeded:
		a.log.InfoContext(ctx, "already done; nothing to do", "kind", a.kind)
		return nil
	case payment.StateFailed:
		// Rejected or out of attempts earlier: only an operator retries it.
		return river.JobCancel(fmt.Errorf("%s of %s failed earlier: %s", a.kind, a.p.Reference, f.LastError))
	}

	// fail records why an attempt failed; reason is already redacted. A
	// rejection is final at once and cancels the job; anything else is
	// retried by River with backoff until the last attempt, when the record
	// is marked failed for an operator.
	fail := func(reason string, rejected bool) error {
		cause := errors.New(a.kind + ": " + reason)
		if !rejected && errors.Is(ctx.Err(), context.Canceled) {
			if errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely) {
				// River cancels the job for good. The call's outcome is
				// unknown: the attempt stays open and the record pending
				// until the sweeper marks it failed (or an operator retries).
				a.log.WarnContext(ctx, a.kind+" attempt cancelled remotely", "reason", reason)
				return fmt.Errorf("%s cancelled: %w (%s)", a.kind, context.Canceled, reason)
			}
			// Stopped, not failed (a shutdown past its deadline): River
			// puts the job back without using up an attempt when the error
			// is a cancellation, and the plugin is not to blame.
			a.release(ctx, f.ID, "interrupted: "+reason)
			a.log.InfoContext(ctx, a.kind+" attempt interrupted; released", "reason", reason)
			return fmt.Errorf("%s interrupted: %w (%s)", a.kind, context.Canceled, reason)
		}
		// The last attempt, or the next try would come after the horizon.
		final := rejected || a.try >= a.maxTries ||
			a.eng.retry.last(a.job.CreatedAt, time.Now(), len(a.job.Errors)+1)
		if rejected {
			a.eng.gate.succeeded(a.envKey()) // the plugin answered: it is healthy
		} else if a.eng.gate.failed(a.envKey()) {
			a.log.WarnContext(ctx, "plugin circuit breaker open: this environment's jobs wait", "cool_off", a.eng.gate.coolOff)
		}
		if err := persist(ctx, errorBudget, func(ctx context.Context) error {
			return a.deps.Payments.RecordError(ctx, f.ID, reason, final)
		}); err != nil {
			// The record stays pending; if this was the last attempt the
			// sweeper marks it failed once the job has ended.
			a.log.ErrorContext(ctx, "record attempt error", "err", err, "final", final)
		}
		a.log.WarnContext(ctx, a.kind+" attempt failed", "reason", reason, "final", final)
		if rejected || (final && a.try < a.maxTries) {
			// Past the horizon before the attempts ran out: stop now.
			return river.JobCancel(cause)
		}
		return cause
	}

	if a.env.ActivePluginID == 0 {
		// Retried with backoff: activating a plugin lets the payment through.
		return fail("no active plugin", false)
	}
	// The key carries the environment's plugin settings: the host restarts
	// the plugin when they (or the plugin) changed.
	key, err := a.eng.keys.activeKey(ctx, a.deps.Plugins, plugins.ActiveRef{ // cached briefly (keycache.go)
		TenantID: a.env.TenantID, PartnerCode: a.env.PartnerCode, Env: a.env.Name, PluginID: a.env.ActivePluginID,
	})
	if err != nil {
		a.log.WarnContext(ctx, "active plugin key", "err", err)
		return fail("active plugin unavailable", false)
	}
	res, fromGet, err := a.callPlugin(ctx, key)
	switch {
	case err != nil && hostSide(err) && ctx.Err() == nil:
		return a.hostBusy(ctx, f.ID, err)
	case err != nil && fromGet:
		return fail("plugin unavailable: "+plugins.StartFailure(err, key.Settings), false)
	case err != nil:
		return fail(callFailure(err, key.Settings), false)
	}
	switch res.Outcome {
	case sdk.OutcomeFulfilled:
		// Recorded even when the job is being stopped: the plugin acted.
		// One statement (shared with other workers' successes when
		// batches is set), and River completes the job in its batches: were
		// the node to die in between, the job's next run finds the record
		// succeeded and does nothing.
		ref := plugins.Redact(res.Reference, key.Settings)
		if err := persist(ctx, succeedBudget, func(ctx context.Context) error {
			if a.batches != nil {
				_, err := a.batches.recordSuccess(ctx, payment.Success{F: f, P: a.p, ResultRef: ref})
				return err
			}
			_, err := a.deps.Payments.RecordSuccess(ctx, f, a.p, ref)
			return err
		}); err != nil {
			// The plugin did act; a retry sends the same key and the plugin
			// answers done without acting again.
			return fmt.Errorf("record %s: %w", a.kind, err)
		}
		a.eng.gate.succeeded(a.envKey())
		a.log.InfoContext(ctx, a.kind+" done", "result_reference", ref)
		return nil
	case sdk.OutcomeRejected:
		return fail("rejected by plugin: "+plugins.Redact(res.Reason, key.Settings), true)
	case sdk.OutcomeRetry:
		return fail("plugin asked to retry: "+plugins.Redact(res.Reason, key.Settings), false)
	default:
		return fail("plugin answered an unknown outcome", false)
	}
}

// callPlugin gets the running plugin and calls it. A process stopped
// between the two (evicted, or replaced by a new version or settings) took
// no call, so the plugin is got once more. fromGet: err is the host's, from
// getting the plugin, not from the call.
func (a attempt) callPlugin(ctx context.Context, key host.Key) (res sdk.Result, fromGet bool, err error) {
	for try := 0; ; try++ {
		plugin, err := a.deps.Host.Get(ctx, key)
		if err != nil {
			return sdk.Result{}, true, err
		}
		res, err = a.call(ctx, plugin)
		if try > 0 || !errors.Is(err, host.ErrStopped) {
			return res, false, err
		}
	}
}

// hostSide reports a failure that is the plugin host's, not the plugin's:
// every process busy, the process stopped under the call, the host closing.
// Such a job waits without using an attempt or counting against the
// plugin's circuit breaker; crashes and timeouts still count.
func hostSide(err error) bool {
	return errors.Is(err, host.ErrPoolFull) || errors.Is(err, host.ErrStopped) || errors.Is(err, host.ErrClosed)
}

// hostBusy snoozes the job (River's snooze does not use an attempt) and
// closes the counted attempt as released.
func (a attempt) hostBusy(ctx context.Context, fulfilmentID int64, err error) error {
	reason := "plugin host busy: the plugin process was stopped (evicted or replaced)"
	switch {
	case errors.Is(err, host.ErrPoolFull):
		reason = "plugin host busy: every plugin process on the node had calls in flight"
	case errors.Is(err, host.ErrClosed):
		reason = "plugin host busy: the node is shutting down"
	}
	a.release(ctx, fulfilmentID, reason)
	a.log.InfoContext(ctx, a.kind+" waits for the plugin host", "reason", reason, "snooze", hostBusySnooze)
	return river.JobSnooze(hostBusySnooze)
}

// release closes the counted attempt without an outcome.
func (a attempt) release(ctx context.Context, fulfilmentID int64, reason string) {
	if err := persist(ctx, errorBudget, func(ctx context.Context) error {
		return a.deps.Payments.Released(ctx, fulfilmentID, reason)
	}); err != nil {
		a.log.ErrorContext(ctx, "record released attempt", "err", err)
	}
}

// callFailure says why a plugin call failed, for the record, River and the
// logs: fixed words for what the host saw (never a pid or a path), the
// plugin's own message with the environment's settings redacted.
func callFailure(err error, settings map[string]string) string {
	switch {
	case errors.Is(err, host.ErrCrashed):
		return "plugin crashed during the call"
	case errors.Is(err, host.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "plugin call timed out"
	case errors.Is(err, host.ErrBusy):
		return "plugin busy: every call slot stayed taken until the call's deadline"
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		st := se.GRPCStatus()
		if st.Code() == codes.Unavailable {
			return "plugin connection lost during the call"
		}
		return "plugin call failed: " + plugins.Redact(st.Message(), settings)
	}
	return "plugin call failed: " + plugins.Redact(err.Error(), settings)
}

// persist runs a recording statement up to recordTries times within budget,
// even when ctx is done: what the plugin did happened regardless, and a
// passing database hiccup must not leave the record without it.
func persist(ctx context.Context, budget time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	var err error
	for try := range recordTries {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			case <-ctx.Done():
				return err
			}
		}
		if err = fn(ctx); err == nil {
			return nil
		}
	}
	return err
}

func (a attempt) envKey() envKey { return envKey{partnerCode: a.env.PartnerCode, env: a.env.Name} }
