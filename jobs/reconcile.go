package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Reconciliation defaults (PARTNERHUB_RECONCILE_*).
const (
	// DefaultReconcileInterval is how often the leader runs reconciliation.
	DefaultReconcileInterval = 5 * time.Minute
	// DefaultReconcileAfter is how long a payment may go without news
	// before Pay1st is asked about it.
	DefaultReconcileAfter = 15 * time.Minute
	// DefaultReconcileGiveUp is how long without news reconciliation keeps
	// asking before it gives up.
	DefaultReconcileGiveUp = 7 * 24 * time.Hour
	// DefaultReconcileBatch bounds the references one run asks about.
	DefaultReconcileBatch = 200
	// reconcileTimeout bounds one run: a batch of queries, one at a time,
	// each bounded by the Pay1st client's own timeout and retries.
	reconcileTimeout = 10 * time.Minute
	// reconcileQueryTimeout bounds one query, its retries included, so one
	// slow reference cannot use up the run.
	reconcileQueryTimeout = 30 * time.Second
)

// ReconcileConfig tunes reconciliation; zero fields take the defaults.
type ReconcileConfig struct {
	Interval    time.Duration
	After       time.Duration
	GiveUpAfter time.Duration
	Batch       int
}

func (c ReconcileConfig) withDefaults() ReconcileConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultReconcileInterval
	}
	if c.After <= 0 {
		c.After = DefaultReconcileAfter
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = DefaultReconcileGiveUp
	}
	if c.Batch <= 0 {
		c.Batch = DefaultReconcileBatch
	}
	return c
}

// ReconcileArgs asks for one reconciliation run. It runs periodically from
// River's leader, so once per cluster per interval.
type ReconcileArgs struct{}

// Kind is the River job kind.
func (ReconcileArgs) Kind() string { return "reconcile" }

// ReconcileWorker asks Pay1st about payments stuck in a status that may
// still move and about orders no webhook followed, and feeds each answer
// to the payment state machine as a webhook would be (payment/reconcile.go):
// a lost SUCCESSFUL still ends in one fulfilment.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	deps Deps
	cfg  ReconcileConfig
	now  func() time.Time
}

// Timeout lets a run ask about a whole batch, past the job timeout meant
// for plugin calls.
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return reconcileTimeout }

// Work runs one reconciliation.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := Reconcile(ctx, w.deps, w.cfg, w.now())
	return err
}

// ReconcileRun counts what one run did.
type ReconcileRun struct {
	Claimed  int // references asked about
	Ingested int // answers that were news, fed to the state machine
	Failed   int // queries or answers that failed; asked again later
	GaveUp   int // references reconciliation stopped asking about
}

// Reconcile runs reconciliation once as at now: gives up on what is too old
// (logged, and said in the payment's timeline), then asks about each
// claimed reference once. A reference's failure is recorded and logged and
// the run goes on; only the database failing stops it.
func Reconcile(ctx context.Context, deps Deps, cfg ReconcileConfig, now time.Time) (ReconcileRun, error) {
	cfg = cfg.withDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := payment.ReconcileParams{Now: now, After: cfg.After, GiveUpAfter: cfg.GiveUpAfter, Limit: cfg.Batch}
	var run ReconcileRun
	askable, err := askable(ctx, deps)
	if err != nil {
		return run, fmt.Errorf("jobs: reconcile: %w", err)
	}
	p.Askable = askable
	gone, err := deps.Payments.GiveUpReconcile(ctx, p)
	if err != nil {
		return run, fmt.Errorf("jobs: reconcile: %w", err)
	}
	for _, g := range gone {
		run.GaveUp++
		log.WarnContext(ctx, "reconciliation gave up: Pay1st never told a final status",
			"partner_code", g.PartnerCode, "env", g.Env, "reference", g.Reference, "subject", g.Subject,
			"status", g.Status, "queries", g.Checks, "last_error", g.LastError, "after", cfg.GiveUpAfter)
	}
	items, err := deps.Payments.ClaimReconcile(ctx, p)
	if err != nil {
		return run, fmt.Errorf("jobs: reconcile: %w", err)
	}
	for _, it := range items {
		if ctx.Err() != nil {
			// The rest were claimed: they are asked about at their next
			// check time.
			break
		}
		run.Claimed++
		res, err := reconcileOne(ctx, deps, it)
		if err != nil {
			run.Failed++
			level := slog.LevelWarn
			if errors.Is(err, pay1st.ErrNoGateway) {
				// A deployment without that gateway: nothing to fix per payment.
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "reconciliation query failed; asked again later",
				"partner_code", it.PartnerCode, "env", it.Env, "reference", it.Reference, "gateway", it.Gateway,
				"queries", it.Checks, "err", err)
			continue
		}
		if res.Ingested {
			run.Ingested++
			log.InfoContext(ctx, "reconciliation learnt a payment's status from Pay1st",
				"partner_code", it.PartnerCode, "env", it.Env, "reference", it.Reference, "was", it.Status,
				"status", res.Result.Status, "applied", res.Result.Applied, "fulfil_queued", res.Result.Enqueued)
		}
	}
	if run.Claimed > 0 || run.GaveUp > 0 {
		log.InfoContext(ctx, "reconciliation run", "asked", run.Claimed, "learnt", run.Ingested,
			"failed", run.Failed, "gave_up", run.GaveUp)
	}
	return run, nil
}

// askable is what this process can ask Pay1st about: the tenant
// environments with credentials, the gateways it has a client for.
func askable(ctx context.Context, deps Deps) (payment.Askable, error) {
	var a payment.Askable
	if deps.Gateways != nil {
		for _, env := range []string{tenant.Staging, tenant.Production} {
			for _, gw := range []string{pay1st.GatewayPay1st, pay1st.GatewaySimulator} {
				if _, err := deps.Gateways.Client(env, gw); err == nil {
					a.Gateways = append(a.Gateways, payment.GatewayRef{Env: env, Gateway: gw})
				}
			}
		}
	}
	if len(a.Gateways) == 0 {
		return a, nil // nothing to ask: no need to read the tenants
	}
	envs, err := deps.Tenants.EnvsWithCredentials(ctx)
	if err != nil {
		return a, err
	}
	a.Envs = envs
	return a, nil
}

// reconcileOne asks the reference's gateway about it and records the
// answer, or why there is none.
func reconcileOne(ctx context.Context, deps Deps, it payment.ReconcileItem) (payment.Reconciled, error) {
	ev, err := queryPay1st(ctx, deps, it)
	if err != nil {
		return payment.Reconciled{}, errors.Join(err, deps.Payments.ReconcileFailed(ctx, it, err.Error()))
	}
	env, err := deps.Tenants.Env(ctx, it.PartnerCode, it.Env)
	if err != nil {
		return payment.Reconciled{}, errors.Join(err, deps.Payments.ReconcileFailed(ctx, it, err.Error()))
	}
	return deps.Payments.ReconcileAnswer(ctx, env, it, ev)
}

func queryPay1st(ctx context.Context, deps Deps, it payment.ReconcileItem) (pay1st.PaymentEvent, error) {
	client, err := deps.Gateways.Client(it.Env, it.Gateway)
	if err != nil {
		return pay1st.PaymentEvent{}, err
	}
	creds, err := deps.Tenants.GatewayCredentials(ctx, it.PartnerCode, it.Env)
	if err != nil {
		return pay1st.PaymentEvent{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, reconcileQueryTimeout)
	defer cancel()
	return client.QueryPayment(ctx, pay1st.Credentials{APIKey: creds.APIKey, APISecret: creds.APISecret, SigningKey: creds.SigningKey},
		it.Reference)
}

// reconcilePeriodic schedules reconciliation every interval, and at start.
// Uniqueness by period keeps one per interval through a change of leader.
func reconcilePeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return ReconcileArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}
