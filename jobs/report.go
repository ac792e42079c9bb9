package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Fulfilment report schedule (docs/payments.md, "Fulfilment reports").
const (
	// DefaultReportHorizon is how long a fulfilment report keeps being
	// retried (Config.ReportHorizon) before it is marked failed. Longer
	// than a fulfilment's: Pay1st, as Merchant of Record, needs every
	// report, and an outage at Pay1st or a credential being fixed can take
	// a weekend.
	DefaultReportHorizon = 72 * time.Hour
	// reportRefusedBase and reportRefusedCap shape the delays after Pay1st
	// refused a report (a 4xx other than 429) or partnerhub could not call
	// it (no gateway, credentials missing): a person has to fix something,
	// so trying every few seconds is pointless. Doubling from a minute to
	// an hour, per refusal (River's snooze count of the job).
	reportRefusedBase = time.Minute
	reportRefusedCap  = time.Hour
	// DefaultReportCallTimeout bounds one attempt's call to Pay1st, the
	// client's own retries of 5xx and network errors included, when
	// Config.ReportCallTimeout is zero.
	DefaultReportCallTimeout = 2 * time.Minute
	// reportJobMargin is a report job's time besides its call: loading the
	// report, order and credentials. Recording the outcome runs past the
	// deadline (persist), within RescueAfter's minute.
	reportJobMargin = 10 * time.Second
)

// ReportJobTimeout bounds one attempt of a report job (ReportWorker's own
// Timeout, not JobTimeout): its call to Pay1st plus reportJobMargin.
// RescueAfter must exceed it by a minute too (cmd/partnerhub serve checks).
func (c Config) ReportJobTimeout() time.Duration {
	return cmp.Or(c.ReportCallTimeout, DefaultReportCallTimeout) + reportJobMargin
}

// QueueReport is the report jobs' own queue (NewClient gives it
// max(1, min(Workers/5, 10)) workers): a Pay1st outage holds at most those
// workers in hung calls, never the fulfil and reverse jobs that credit
// players, which stay on QueueDefault with the tenant fairness gate. A
// report call goes to Pay1st, not to a tenant's plugin, so the gate does
// not apply to it.
const QueueReport = "report"

// reportWorkers is QueueReport's worker count for Config.Workers.
func reportWorkers(workers int) int { return max(1, min(workers/5, 10)) }

// ReportArgs asks for a gateway payment's fulfilment to be reported to
// Pay1st (Fulfilment Completion). Queued by payment.SucceedTx in the
// transaction that records the fulfilment's success.
type ReportArgs struct {
	PaymentID int64  `json:"payment_id" river:"unique"`
	TenantID  int64  `json:"tenant_id"`
	Env       string `json:"env"`
	Reference string `json:"reference"` // for people reading the queue
}

// Kind is the River job kind.
func (ReportArgs) Kind() string { return "report_fulfilment" }

// InsertOpts puts reports on QueueReport and makes a report's job unique
// per payment while one waits or runs. Completed, cancelled and discarded
// jobs do not count: the record, not the job, says whether Pay1st has the
// report, and a retry by hand of a report whose job ended queues a new one.
func (ReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReport, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// EnqueueReportTx queues the report of r's payment (payment.Enqueuer);
// queued is false when a job of it is still waiting or running.
func (e *Enqueuer) EnqueueReportTx(ctx context.Context, tx pgx.Tx, r payment.Report) (bool, error) {
	res, err := e.client.InsertTx(ctx, tx, ReportArgs{
		PaymentID: r.PaymentID, TenantID: r.TenantID, Env: r.Env, Reference: r.Reference,
	}, nil)
	if err != nil {
		return false, fmt.Errorf("jobs: insert report: %w", err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// RunReportNowTx makes the payment's waiting report job run at once
// (payment.Enqueuer): a refused report waits up to reportRefusedCap
// between tries, and an operator who fixed the cause should not wait for
// it. A running job is left alone and reported as such. Containment (@>)
// uses River's GIN index on args; the workers' next poll picks it up.
func (e *Enqueuer) RunReportNowTx(ctx context.Context, tx pgx.Tx, paymentID int64) (payment.ReportJob, error) {
	var moved, running int
	err := tx.QueryRow(ctx, `WITH j AS (
			SELECT id, state FROM river_job
			WHERE kind = $1 AND args @> jsonb_build_object('payment_id', $2::bigint) AND finalized_at IS NULL
			FOR UPDATE),
		moved AS (UPDATE river_job SET state = 'available', scheduled_at = now()
			FROM j WHERE river_job.id = j.id AND j.state IN ('available', 'scheduled', 'retryable')
			RETURNING river_job.id)
		SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM j WHERE state = 'running')`,
		ReportArgs{}.Kind(), paymentID).Scan(&moved, &running)
	switch {
	case err != nil:
		return payment.ReportJobNone, fmt.Errorf("jobs: run report of payment %d now: %w", paymentID, err)
	case running > 0:
		return payment.ReportJobRunning, nil
	case moved > 0:
		return payment.ReportJobMoved, nil
	}
	return payment.ReportJobNone, nil
}

// ReportWorker reports a fulfilled gateway payment to Pay1st: FULFILLED per
// product of the order, with its quantity and the time the game was
// credited. The report record, not the job, decides whether it is done:
// once Pay1st accepted it, a job that runs again does nothing. Pay1st
// documents no idempotency for Fulfilment Completion, so a report whose
// answer was lost (a timeout after Pay1st took it) is sent again; that is
// the only way it is sent twice (a 2xx is accepted whatever its body).
//
// Retries: a 5xx, 429 or network failure (after the client's own quick
// retries) is retried by River on the fulfilment schedule spread over
// Config.ReportHorizon; a refusal (other 4xx) or a configuration problem
// (no gateway, credentials missing) waits longer between tries
// (reportRefusedBase doubling to reportRefusedCap), since a person must act.
// Past the horizon the report is marked failed, visible in the payment's
// timeline, and payment.RetryReport queues it again. A report left pending
// by a job that ended without an outcome is failed by the sweeper.
type ReportWorker struct {
	river.WorkerDefaults[ReportArgs]
	deps    Deps
	retry   *RetryPolicy
	horizon time.Duration
	call    time.Duration // one attempt's call to Pay1st
	now     func() time.Time
}

// NextRetry spreads a report's retries over its own horizon.
func (w *ReportWorker) NextRetry(job *river.Job[ReportArgs]) time.Time {
	return w.retry.NextRetry(job.JobRow)
}

// Timeout is the report's own (Config.ReportJobTimeout), not
// Config.JobTimeout, which is sized for plugin calls.
func (w *ReportWorker) Timeout(*river.Job[ReportArgs]) time.Duration { return w.call + reportJobMargin }

// Work runs one attempt.
func (w *ReportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	log := w.deps.Logger.With("job_id", job.ID, "attempt", job.Attempt, "payment_id", job.Args.PaymentID,
		"tenant_id", job.Args.TenantID, "env", job.Args.Env, "reference", job.Args.Reference)
	r, err := w.deps.Payments.Report(ctx, job.Args.PaymentID)
	switch {
	case errors.Is(err, payment.ErrNotFound):
		return river.JobCancel(fmt.Errorf("payment %d has no fulfilment report: %w", job.Args.PaymentID, err))
	case err != nil:
		return fmt.Errorf("load report: %w", err)
	}
	if done, err := reportSettled(ctx, log, r); done {
		return err
	}

	// fail records why the attempt failed. refused: a person must act, so
	// the next try comes later (a snooze, which River does not count as a
	// failure). Past the horizon the report is failed and the job cancelled.
	fail := func(reason string, refused bool, creds tenant.GatewayCredentials) error {
		reason = redactReport(reason, creds)
		var delay time.Duration
		if refused {
			delay = refusedDelay(snoozes(job.Metadata) + 1)
		} else {
			delay = w.retry.Delay(len(job.Errors) + 1)
		}
		now := w.now()
		final := now.Add(delay).After(job.CreatedAt.Add(w.horizon)) || (!refused && job.Attempt >= job.MaxAttempts)
		if err := persist(ctx, errorBudget, func(ctx context.Context) error {
			return w.deps.Payments.ReportFailed(ctx, r.PaymentID, reason, final)
		}); err != nil {
			log.ErrorContext(ctx, "record report error", "err", err, "final", final)
		}
		log.WarnContext(ctx, "fulfilment report failed", "reason", reason, "refused", refused, "final", final)
		cause := errors.New("report fulfilment: " + reason)
		switch {
		case final:
			return river.JobCancel(cause)
		case refused:
			return river.JobSnooze(delay)
		}
		return cause
	}

	// The payment's order by the one rule (tenant environment and Pay1st
	// reference), as the report was created for it.
	order, err := w.deps.Payments.OrderByReference(ctx, r.TenantID, r.Env, r.Reference)
	if errors.Is(err, payment.ErrNotFound) {
		return fail("the payment's order no longer exists", true, tenant.GatewayCredentials{})
	}
	if err != nil {
		return fmt.Errorf("load order: %w", err)
	}
	items := make([]payment.ReportedProduct, 0, len(order.Items))
	for _, it := range order.Items {
		items = append(items, payment.ReportedProduct{SKU: it.SKU, Quantity: it.Quantity})
	}
	products := payment.ReportProducts(items)
	if len(products) == 0 {
		return fail("the payment's order has no items to report", true, tenant.GatewayCredentials{})
	}

	client, err := w.deps.Gateways.Client(r.Env, order.Gateway)
	if err != nil {
		return fail(err.Error(), true, tenant.GatewayCredentials{})
	}
	t, err := w.deps.Tenants.ByID(ctx, r.TenantID)
	if err != nil {
		return fmt.Errorf("load tenant %d: %w", r.TenantID, err)
	}
	creds, err := w.deps.Tenants.GatewayCredentials(ctx, t.PartnerCode, r.Env)
	switch {
	case errors.Is(err, tenant.ErrCredentialsMissing), errors.Is(err, tenant.ErrNotFound):
		return fail(err.Error(), true, creds)
	case err != nil:
		return fail("open credentials: "+err.Error(), false, creds)
	}

	f := pay1st.Fulfilment{Reference: r.Reference, Products: make([]pay1st.FulfilmentProduct, len(products))}
	for i, p := range products {
		f.Products[i] = pay1st.FulfilmentProduct{SKU: p.SKU, FulfilmentStatus: pay1st.FulfilmentStatusFulfilled,
			Quantity: p.Quantity, FulfilmentTime: r.FulfilledAt}
	}
	// Counted just before the call, so Attempts is the calls made.
	if r, err = w.deps.Payments.BeginReportAttempt(ctx, r.PaymentID); err != nil {
		return fmt.Errorf("record report attempt: %w", err)
	}
	if done, err := reportSettled(ctx, log, r); done {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, w.call)
	err = client.CompleteFulfilment(callCtx, pay1st.Credentials{APIKey: creds.APIKey, APISecret: creds.APISecret,
		SigningKey: creds.SigningKey}, f)
	cancel()
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.Canceled):
		// Stopped (shutdown), not failed: River puts a cancelled job back
		// without counting it. Pay1st may have it; reporting again is
		// the documented cost.
		log.InfoContext(ctx, "fulfilment report interrupted", "err", redactReport(err.Error(), creds))
		return fmt.Errorf("report fulfilment interrupted: %w", context.Canceled)
	case errors.Is(err, pay1st.ErrUnavailable), errors.Is(err, pay1st.ErrRateLimited),
		errors.Is(err, pay1st.ErrBadResponse), errors.Is(err, pay1st.ErrResponseTooLarge),
		errors.Is(err, context.DeadlineExceeded):
		return fail(err.Error(), false, creds)
	default:
		// A refusal (4xx: bad credentials, unknown payment, a line Pay1st
		// does not accept) is retried too, slowly: it may be fixed.
		return fail(err.Error(), true, creds)
	}

	// Recorded even when the job is being stopped: Pay1st has it.
	if err := persist(ctx, succeedBudget, func(ctx context.Context) error {
		_, err := w.deps.Payments.ReportSucceeded(ctx, r.PaymentID, products)
		return err
	}); err != nil {
		// A retry reports again: Pay1st hears twice, never not at all.
		return fmt.Errorf("record report: %w", err)
	}
	log.InfoContext(ctx, "fulfilment reported", "products", len(products), "report_attempts", r.Attempts)
	return nil
}

// reportSettled: a report that is not pending needs no call. A succeeded
// one completes the job; a failed one cancels it (RetryReport queues anew).
func reportSettled(ctx context.Context, log *slog.Logger, r payment.Report) (bool, error) {
	switch r.State {
	case payment.StateSucceeded:
		log.InfoContext(ctx, "fulfilment already reported; nothing to do")
		return true, nil
	case payment.StateFailed:
		return true, river.JobCancel(fmt.Errorf("report of %s failed earlier: %s", r.Reference, r.LastError))
	}
	return false, nil
}

// snoozes is how many times River snoozed the job (its metadata): the
// refusals so far, which space the next try.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if json.Unmarshal(metadata, &m) != nil {
		return 0
	}
	return m.Snoozes
}

// refusedDelay is the wait after the n-th attempt (1-based) of a report
// Pay1st refused: reportRefusedBase doubled n-1 times, capped.
func refusedDelay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 12 { // far past the cap; no overflow
		return reportRefusedCap
	}
	return min(reportRefusedBase<<(n-1), reportRefusedCap)
}

// redactReport removes the tenant's credentials from a message, should
// anything quote them; the client already keeps tokens and bodies out of
// its errors.
func redactReport(msg string, creds tenant.GatewayCredentials) string {
	for _, v := range []string{creds.APISecret, creds.SigningKey, creds.APIKey} {
		if len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}
