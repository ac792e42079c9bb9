package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// DefaultSettleDelay is how long a reversal waits before looking again at a
// fulfilment that has not settled yet (Config.SettleDelay).
const DefaultSettleDelay = 5 * time.Second

// ReverseArgs asks for a fulfilled (or possibly fulfilled) payment that was
// refunded or charged back to be taken back in the game.
type ReverseArgs struct {
	PaymentID   int64  `json:"payment_id" river:"unique"`
	PartnerCode string `json:"partner_code"`
	Env         string `json:"env"`
	Reference   string `json:"reference"` // for people reading the queue
	// Reason is the status that caused the reversal: REFUND or CHARGEBACK.
	Reason string `json:"reason"`
}

// Kind is the River job kind.
func (ReverseArgs) Kind() string { return "reverse" }

// InsertOpts makes reverse unique per payment: a refund sent twice, or a
// chargeback after a refund, queues nothing new, including after the job
// completed.
func (ReverseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReverseWorker calls the tenant's active plugin to take back a payment's
// fulfilment, with the exactly-once rules of fulfil (attempt). It first
// waits for the payment's fulfil job to settle: reversing a fulfilment that
// is still being attempted would race with it.
type ReverseWorker struct {
	river.WorkerDefaults[ReverseArgs]
	deps   Deps
	eng    *engine
	settle time.Duration
}

// Work runs one attempt.
func (w *ReverseWorker) Work(ctx context.Context, job *river.Job[ReverseArgs]) error {
	log := w.deps.Logger.With("job_id", job.ID, "attempt", job.Attempt, "payment_id", job.Args.PaymentID,
		"partner_code", job.Args.PartnerCode, "env", job.Args.Env, "reference", job.Args.Reference, "reason", job.Args.Reason)
	// Fairness first: a tenant over its cap or with a failing plugin waits
	// without using up an attempt or a worker.
	release, err := w.eng.admit(ctx, envKey{partnerCode: job.Args.PartnerCode, env: job.Args.Env}, job.JobRow)
	if err != nil {
		return err
	}
	defer release()
	// One round trip: the payment and, for Shop payments, the player and
	// the items bought.
	p, pur, err := w.deps.Payments.PaymentAndPurchase(ctx, job.Args.PaymentID)
	if errors.Is(err, payment.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("load payment: %w", err)
	}
	if payment.PhaseOf(pay1st.Status(p.Status)) != payment.PhaseReversed {
		// The transition table never leaves REFUND/CHARGEBACK; a job
		// queued by hand for another payment status does nothing.
		return river.JobCancel(fmt.Errorf("payment %s is %s, not refunded or charged back", p.Reference, p.Status))
	}
	env, err := w.deps.Tenants.Env(ctx, job.Args.PartnerCode, p.Env)
	if errors.Is(err, tenant.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("tenant %s/%s no longer exists: %w", job.Args.PartnerCode, p.Env, err))
	}
	if err != nil {
		return fmt.Errorf("resolve tenant environment: %w", err)
	}
	if env.TenantID != p.TenantID {
		return river.JobCancel(fmt.Errorf("payment %d does not belong to %s", p.ID, job.Args.PartnerCode))
	}
	if p.OnHold {
		log.InfoContext(ctx, "payment on hold; reversal cancelled", "hold_reason", p.HoldReason)
		return river.JobCancel(fmt.Errorf("payment %s is on hold: %s", p.Reference, p.HoldReason))
	}
	unsettled, err := fulfilUnsettled(ctx, w.deps, p.ID)
	if err != nil {
		return fmt.Errorf("check fulfilment: %w", err)
	}
	if unsettled {
		// Snoozing does not use up an attempt.
		log.InfoContext(ctx, "fulfilment not settled yet; reversal waits")
		return river.JobSnooze(w.settle)
	}
	f, err := w.deps.Payments.Fulfilment(ctx, p.ID, payment.KindFulfil)
	switch {
	case errors.Is(err, payment.ErrNotFound):
		return river.JobCancel(fmt.Errorf("payment %s was never fulfilled: nothing to reverse", p.Reference))
	case err != nil:
		return fmt.Errorf("load fulfilment: %w", err)
	case !f.MayHaveActed():
		return river.JobCancel(fmt.Errorf("fulfilment of %s failed: nothing to reverse", p.Reference))
	}
	// Succeeded, or pending with its job finished, or failed by the sweeper
	// because its job ended without an outcome: the last attempt's outcome
	// is unknown (a timeout, a dead node), so it is reversed under its key.
	key := payment.IdempotencyKey(env.PartnerCode, env.Name, p.Reference, payment.KindReverse)
	return attempt{
		deps: w.deps, log: log, env: env, p: p, kind: payment.KindReverse, key: key,
		try: job.Attempt, maxTries: job.MaxAttempts, job: job.JobRow, eng: w.eng,
		call: func(ctx context.Context, plugin sdk.Plugin) (sdk.Result, error) {
			req := reverseRequest(key, env.PartnerCode, p, job.Args.Reason)
			req.PlayerID, req.Items = cmp.Or(pur.PlayerID, req.PlayerID), pur.Items
			return plugin.Reverse(ctx, req)
		},
	}.run(ctx)
}

// fulfilUnsettled reports whether a fulfil job of the payment is still
// waiting, running or due for a retry. Containment (@>) uses River's GIN
// index on args.
func fulfilUnsettled(ctx context.Context, deps Deps, paymentID int64) (bool, error) {
	var n int
	err := deps.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job
		WHERE kind = 'fulfil' AND args @> jsonb_build_object('payment_id', $1::bigint) AND finalized_at IS NULL`,
		paymentID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("fulfil jobs of payment %d: %w", paymentID, err)
	}
	return n > 0, nil
}

func reverseRequest(key, partnerCode string, p payment.Payment, reason string) sdk.ReverseRequest {
	f := fulfilRequest(key, partnerCode, p)
	return sdk.ReverseRequest{
		IdempotencyKey: key,
		PartnerCode:    partnerCode,
		Environment:    p.Env,
		Payment:        f.Payment,
		PlayerID:       strconv.FormatInt(p.CustomerID, 10),
		Reason:         sdk.ReverseReason(reason),
	}
}

// EnqueueReverseTx queues the reversal of a payment's fulfilment. River's
// uniqueness on the payment id makes a second call a no-op.
func (e *Enqueuer) EnqueueReverseTx(ctx context.Context, tx pgx.Tx, env tenant.Env, p payment.Payment, reason string) error {
	_, err := e.client.InsertTx(ctx, tx, ReverseArgs{
		PaymentID: p.ID, PartnerCode: env.PartnerCode, Env: env.Name, Reference: p.Reference, Reason: reason,
	}, nil)
	if err != nil {
		return fmt.Errorf("jobs: insert reverse: %w", err)
	}
	return nil
}

// CancelFulfilTx cancels, in tx, the payment's fulfil jobs that are not
// running — waiting, scheduled or retryable — and reports whether one is
// running: it may be crediting right now, so the caller must reverse it.
// The jobs are locked first, so a worker cannot pick one up in between.
func (e *Enqueuer) CancelFulfilTx(ctx context.Context, tx pgx.Tx, paymentID int64) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT id, state::text FROM river_job
		WHERE kind = 'fulfil' AND args @> jsonb_build_object('payment_id', $1::bigint) AND finalized_at IS NULL
		ORDER BY id FOR UPDATE`, paymentID)
	if err != nil {
		return false, fmt.Errorf("jobs: lock fulfil jobs: %w", err)
	}
	type row struct {
		id    int64
		state string
	}
	var jobs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.state); err != nil {
			rows.Close()
			return false, fmt.Errorf("jobs: scan fulfil job: %w", err)
		}
		jobs = append(jobs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("jobs: fulfil jobs: %w", err)
	}
	running := false
	for _, j := range jobs {
		if j.state == "running" {
			running = true
			continue
		}
		if _, err := e.client.JobCancelTx(ctx, tx, j.id); err != nil {
			return false, fmt.Errorf("jobs: cancel fulfil job %d: %w", j.id, err)
		}
	}
	return running, nil
}
