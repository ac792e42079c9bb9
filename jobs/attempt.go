package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// attempt is one try at a plugin call that must take effect at most once
// (a fulfil or a reverse). Fulfil and reverse share it so both follow the
// same exactly-once rules: the attempt is counted before the call, the
// plugin always gets the same idempotency key, success is recorded together
// with the job's completion, a rejection is final and cancels the job, a
// transient failure is retried by River with backoff, and the last failed
// attempt marks the record failed for an operator.
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
}

func (a attempt) run(ctx context.Context) error {
	f, err := a.deps.Payments.BeginAttempt(ctx, a.p, a.kind, a.key, a.env.ActivePluginID)
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	switch f.State {
	case payment.StateSucceeded:
		a.log.InfoContext(ctx, "already done; nothing to do", "kind", a.kind)
		return nil
	case payment.StateFailed:
		// Rejected or out of attempts earlier: only an operator retries it.
		return river.JobCancel(fmt.Errorf("%s of %s failed earlier: %s", a.kind, a.p.Reference, f.LastError))
	}

	// fail records why an attempt failed. A rejection is final at once and
	// cancels the job; anything else is retried by River with backoff until
	// the last attempt, when the record is marked failed for an operator.
	fail := func(reason string, rejected bool, cause error) error {
		if !rejected && errors.Is(ctx.Err(), context.Canceled) {
			// Stopped, not failed (a shutdown past its deadline): River
			// puts the job back without using up an attempt when the error
			// is a cancellation, and the plugin is not to blame.
			a.log.InfoContext(ctx, a.kind+" attempt interrupted; released", "reason", reason)
			return fmt.Errorf("%s interrupted: %w (%w)", a.kind, context.Canceled, cause)
		}
		// The last attempt, or the next try would come after the horizon.
		final := rejected || a.try >= a.maxTries ||
			a.eng.retry.last(a.job.CreatedAt, time.Now(), len(a.job.Errors)+1)
		if rejected {
			a.eng.gate.succeeded(a.envKey()) // the plugin answered: it is healthy
		} else if a.eng.gate.failed(a.envKey()) {
			a.log.WarnContext(ctx, "plugin circuit breaker open: this environment's jobs wait", "cool_off", a.eng.gate.coolOff)
		}
		// Recorded even when the job's context is done (timeout, shutdown).
		recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.deps.Payments.RecordError(recCtx, f.ID, reason, final); err != nil {
			a.log.ErrorContext(ctx, "record attempt error", "err", err)
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
		return fail("no active plugin", false, fmt.Errorf("no active plugin in %s/%s", a.env.PartnerCode, a.env.Name))
	}
	// The key carries the environment's plugin settings: the host restarts
	// the plugin when they (or the plugin) changed.
	key, err := a.deps.Plugins.ActiveKey(ctx, plugins.ActiveRef{
		TenantID: a.env.TenantID, PartnerCode: a.env.PartnerCode, Env: a.env.Name, PluginID: a.env.ActivePluginID,
	})
	if err != nil {
		return fail("active plugin unavailable", false, fmt.Errorf("active plugin: %w", err))
	}
	plugin, err := a.deps.Host.Get(ctx, key)
	if err != nil {
		return fail("plugin unavailable: "+err.Error(), false, fmt.Errorf("start plugin: %w", err))
	}
	res, err := a.call(ctx, plugin)
	if err != nil {
		return fail("plugin call failed: "+err.Error(), false, fmt.Errorf("plugin %s: %w", a.kind, err))
	}
	switch res.Outcome {
	case sdk.OutcomeFulfilled:
		// Recorded even when the job is being stopped: the plugin acted.
		// One statement, and River completes the job in its batches: were
		// the node to die in between, the job's next run finds the record
		// succeeded and does nothing.
		recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := a.deps.Payments.Succeed(recCtx, f.ID, res.Reference); err != nil {
			// The plugin did act; a retry sends the same key and the plugin
			// answers done without acting again.
			return fmt.Errorf("record %s: %w", a.kind, err)
		}
		a.eng.gate.succeeded(a.envKey())
		a.log.InfoContext(ctx, a.kind+" done", "result_reference", res.Reference)
		return nil
	case sdk.OutcomeRejected:
		return fail("rejected by plugin: "+res.Reason, true, fmt.Errorf("plugin rejected: %s", res.Reason))
	case sdk.OutcomeRetry:
		return fail("plugin asked to retry: "+res.Reason, false, fmt.Errorf("plugin asked to retry: %s", res.Reason))
	default:
		return fail("plugin answered an unknown outcome", false, fmt.Errorf("unknown plugin outcome %q", res.Outcome))
	}
}

func (a attempt) envKey() envKey { return envKey{partnerCode: a.env.PartnerCode, env: a.env.Name} }
