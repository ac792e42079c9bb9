package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/host"
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
	call     func(ctx context.Context, plugin sdk.Plugin) (sdk.Result, error)
	complete func(ctx context.Context, tx pgx.Tx) error // completes the River job in tx
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
		final := rejected || a.try >= a.maxTries
		// Recorded even when the job's context is done (timeout, shutdown).
		recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.deps.Payments.RecordError(recCtx, f.ID, reason, final); err != nil {
			a.log.ErrorContext(ctx, "record attempt error", "err", err)
		}
		a.log.WarnContext(ctx, a.kind+" attempt failed", "reason", reason, "final", final)
		if rejected {
			return river.JobCancel(cause)
		}
		return cause
	}

	if a.env.ActivePluginID == 0 {
		// Retried with backoff: activating a plugin lets the payment through.
		return fail("no active plugin", false, fmt.Errorf("no active plugin in %s/%s", a.env.PartnerCode, a.env.Name))
	}
	pl, err := a.deps.Plugins.Get(ctx, a.env.TenantID, a.env.ActivePluginID)
	if err != nil {
		return fail("active plugin unavailable", false, fmt.Errorf("active plugin: %w", err))
	}
	plugin, err := a.deps.Host.Get(ctx, host.Key{PartnerCode: a.env.PartnerCode, Env: a.env.Name, SHA256: pl.SHA256})
	if err != nil {
		return fail("plugin unavailable: "+err.Error(), false, fmt.Errorf("start plugin: %w", err))
	}
	res, err := a.call(ctx, plugin)
	if err != nil {
		return fail("plugin call failed: "+err.Error(), false, fmt.Errorf("plugin %s: %w", a.kind, err))
	}
	switch res.Outcome {
	case sdk.OutcomeFulfilled:
		err := db.InTx(ctx, a.deps.Pool, func(tx pgx.Tx) error {
			if _, err := a.deps.Payments.SucceedTx(ctx, tx, f.ID, res.Reference); err != nil {
				return err
			}
			return a.complete(ctx, tx)
		})
		if err != nil {
			// The plugin did act; a retry sends the same key and the plugin
			// answers done without acting again.
			return fmt.Errorf("record %s: %w", a.kind, err)
		}
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
