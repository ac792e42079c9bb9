package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// FulfilArgs asks for a paid payment to be credited in the game.
type FulfilArgs struct {
	PaymentID   int64  `json:"payment_id" river:"unique"`
	PartnerCode string `json:"partner_code"`
	Env         string `json:"env"`
	Reference   string `json:"reference"` // for people reading the queue
}

// Kind is the River job kind.
func (FulfilArgs) Kind() string { return "fulfil" }

// InsertOpts makes fulfil unique per payment: a retried webhook queues
// nothing new, including after the job completed.
func (FulfilArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// FulfilWorker calls the tenant's active plugin to credit a payment. The
// plugin gets the same idempotency key on every attempt, and success is
// recorded together with the job's completion, once.
type FulfilWorker struct {
	river.WorkerDefaults[FulfilArgs]
	deps Deps
}

// Work runs one attempt.
func (w *FulfilWorker) Work(ctx context.Context, job *river.Job[FulfilArgs]) error {
	log := w.deps.Logger.With("job_id", job.ID, "attempt", job.Attempt, "payment_id", job.Args.PaymentID,
		"partner_code", job.Args.PartnerCode, "env", job.Args.Env, "reference", job.Args.Reference)
	p, err := w.deps.Payments.Get(ctx, job.Args.PaymentID)
	if errors.Is(err, payment.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("load payment: %w", err)
	}
	if p.Status != string(pay1st.StatusSuccessful) {
		log.InfoContext(ctx, "payment no longer successful; fulfilment cancelled", "status", p.Status)
		return river.JobCancel(fmt.Errorf("payment %s is %s, not SUCCESSFUL", p.Reference, p.Status))
	}
	env, err := w.deps.Tenants.Env(ctx, job.Args.PartnerCode, p.Env)
	if errors.Is(err, tenant.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("tenant %s/%s no longer exists: %w", job.Args.PartnerCode, p.Env, err))
	}
	if err != nil {
		return fmt.Errorf("resolve tenant environment: %w", err)
	}
	if env.TenantID != p.TenantID {
		// The job's partnerCode names another tenant than the payment's.
		return river.JobCancel(fmt.Errorf("payment %d does not belong to %s", p.ID, job.Args.PartnerCode))
	}
	key := payment.IdempotencyKey(env.PartnerCode, env.Name, p.Reference, payment.KindFulfil)
	f, err := w.deps.Payments.BeginAttempt(ctx, p, payment.KindFulfil, key, env.ActivePluginID)
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	switch f.State {
	case payment.StateSucceeded:
		log.InfoContext(ctx, "already fulfilled; nothing to do")
		return nil
	case payment.StateFailed:
		// Rejected or out of attempts earlier: only an operator retries it.
		return river.JobCancel(fmt.Errorf("fulfilment of %s failed earlier: %s", p.Reference, f.LastError))
	}

	// fail records why an attempt failed. A rejection is final at once and
	// cancels the job; anything else is retried by River with backoff until
	// the last attempt, when the fulfilment is marked failed for an operator.
	fail := func(reason string, rejected bool, cause error) error {
		final := rejected || job.Attempt >= job.MaxAttempts
		// Recorded even when the job's context is done (timeout, shutdown).
		recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.deps.Payments.RecordError(recCtx, f.ID, reason, final); err != nil {
			log.ErrorContext(ctx, "record fulfilment error", "err", err)
		}
		log.WarnContext(ctx, "fulfilment attempt failed", "reason", reason, "final", final)
		if rejected {
			return river.JobCancel(cause)
		}
		return cause
	}

	if env.ActivePluginID == 0 {
		// Retried with backoff: activating a plugin lets the payment through.
		return fail("no active plugin", false, fmt.Errorf("no active plugin in %s/%s", env.PartnerCode, env.Name))
	}
	pl, err := w.deps.Plugins.Get(ctx, env.TenantID, env.ActivePluginID)
	if err != nil {
		return fail("active plugin unavailable", false, fmt.Errorf("active plugin: %w", err))
	}

	plugin, err := w.deps.Host.Get(ctx, host.Key{PartnerCode: env.PartnerCode, Env: env.Name, SHA256: pl.SHA256})
	if err != nil {
		return fail("plugin unavailable: "+err.Error(), false, fmt.Errorf("start plugin: %w", err))
	}
	res, err := plugin.Fulfil(ctx, fulfilRequest(key, env.PartnerCode, p))
	if err != nil {
		return fail("plugin call failed: "+err.Error(), false, fmt.Errorf("plugin fulfil: %w", err))
	}
	switch res.Outcome {
	case sdk.OutcomeFulfilled:
		err := db.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) error {
			if _, err := w.deps.Payments.SucceedTx(ctx, tx, f.ID, res.Reference); err != nil {
				return err
			}
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		})
		if err != nil {
			// The plugin did credit; a retry sends the same key and the
			// plugin answers fulfilled without crediting again.
			return fmt.Errorf("record fulfilment: %w", err)
		}
		log.InfoContext(ctx, "fulfilled", "result_reference", res.Reference)
		return nil
	case sdk.OutcomeRejected:
		return fail("rejected by plugin: "+res.Reason, true, fmt.Errorf("plugin rejected: %s", res.Reason))
	case sdk.OutcomeRetry:
		return fail("plugin asked to retry: "+res.Reason, false, fmt.Errorf("plugin asked to retry: %s", res.Reason))
	default:
		return fail("plugin answered an unknown outcome", false, fmt.Errorf("unknown plugin outcome %q", res.Outcome))
	}
}

func fulfilRequest(key, partnerCode string, p payment.Payment) sdk.FulfilRequest {
	return sdk.FulfilRequest{
		IdempotencyKey: key,
		PartnerCode:    partnerCode,
		Environment:    p.Env,
		PlayerID:       strconv.FormatInt(p.CustomerID, 10),
		Payment: sdk.Payment{
			Reference:        p.Reference,
			PartnerReference: p.PartnerReference,
			Status:           p.Status,
			Amount:           p.Amount,
			CurrencyCode:     p.CurrencyCode,
			CountryCode:      p.CountryCode,
			CustomerID:       p.CustomerID,
			PaymentMethod:    p.PaymentMethod,
		},
	}
}
