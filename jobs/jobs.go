// Package jobs runs partnerhub's background work on River, in the same
// Postgres as everything else: the job that hands a paid payment to the
// tenant's plugin, the job that takes it back after a refund or
// chargeback, the fulfilment report to Pay1st, and periodic
// reconciliation with Pay1st (retention is still to come).
package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/metric"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// PluginHost gives the running plugin for a tenant environment and version.
type PluginHost interface {
	Get(ctx context.Context, key host.Key) (sdk.Plugin, error)
}

// Config tunes the River client.
type Config struct {
	Workers           int
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	MaxAttempts       int
	// JobTimeout bounds one attempt; it must cover a plugin's start and
	// call timeouts, or River's one-minute default would cut them short.
	JobTimeout time.Duration
	// SettleDelay is how long a reversal waits before checking again on a
	// fulfilment still in progress; DefaultSettleDelay when zero.
	SettleDelay time.Duration
	// DeliveryRetention is how long deliveries are kept; the hourly
	// retention job deletes older ones. Zero keeps them forever.
	DeliveryRetention time.Duration
	// RetryHorizon is how long a failing fulfilment is retried before it is
	// marked failed; DefaultRetryHorizon when zero (RetryPolicy).
	RetryHorizon time.Duration
	// TenantConcurrency caps the jobs one tenant environment runs at once
	// on this node; DefaultTenantConcurrency when zero.
	TenantConcurrency int
	// TenantBurst is the cap of a tenant environment alone on this node
	// (no other one's job running or started within a second):
	// TenantConcurrency when lower or zero (fairness.go).
	TenantBurst int
	// BreakerFailures consecutive failed plugin calls of a tenant
	// environment pause its jobs for BreakerCoolOff (defaults when zero).
	BreakerFailures int
	BreakerCoolOff  time.Duration
	// RescueAfter is how long a job may stay running before River, on a
	// live node, takes its node for dead and retries it; River's default
	// (an hour) when zero. At least JobTimeout plus a minute: an attempt
	// records its outcome for up to 10 s past its deadline.
	RescueAfter time.Duration
	// SweepInterval is how often the sweeper marks failed the fulfilments
	// whose job ended without an outcome (sweep.go);
	// DefaultSweepInterval when zero.
	SweepInterval time.Duration
	// ReportHorizon is how long a fulfilment report to Pay1st is retried
	// before it is marked failed; DefaultReportHorizon when zero (report.go).
	ReportHorizon time.Duration
	// ReportCallTimeout bounds one report attempt's call to Pay1st, the
	// client's own retries included; DefaultReportCallTimeout when zero.
	// The report job's timeout is ReportJobTimeout.
	ReportCallTimeout time.Duration
	// Reconcile tunes reconciliation (reconcile.go); it runs when Deps has
	// Gateways.
	Reconcile ReconcileConfig
}

// Deps are the services workers use.
type Deps struct {
	Pool     *pgxpool.Pool
	Tenants  *tenant.Service
	Payments *payment.Service
	Plugins  *plugins.Registry
	Host     PluginHost
	Logger   *slog.Logger
	// Gateways are the Pay1st Gateway clients (fulfilment reports,
	// reconciliation); nil when none is configured.
	Gateways *pay1st.Gateways
	// MeterProvider receives job and queue metrics (metrics.go); none when
	// nil.
	MeterProvider metric.MeterProvider
}

// NewClient returns a River client that works partnerhub's jobs. Start it
// with Start and stop it with Stop.
func NewClient(deps Deps, cfg Config) (*river.Client[pgx.Tx], error) {
	tenantCap := cmp.Or(cfg.TenantConcurrency, DefaultTenantConcurrency)
	eng := &engine{pool: deps.Pool, log: deps.Logger, retry: NewRetryPolicy(cfg.MaxAttempts, cfg.RetryHorizon), keys: newKeyCache(),
		gate: newGate(tenantCap, cmp.Or(cfg.BreakerFailures, DefaultBreakerFailures), cmp.Or(cfg.BreakerCoolOff, DefaultBreakerCoolOff))}
	// A tenant's jobs over its cap wait in process for a slot rather than
	// being snoozed, up to half the workers with those running (at least a
	// cap's worth): a burst is absorbed at once and its jobs start the
	// moment a slot frees, while the other half stays free for everyone
	// else. Beyond that it is a backlog, and goes to the overflow queue.
	eng.gate.room = max(tenantCap, cfg.Workers/2-tenantCap)
	eng.gate.burst = max(tenantCap, cfg.TenantBurst)
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &FulfilWorker{deps: deps, eng: eng}); err != nil {
		return nil, fmt.Errorf("jobs: add fulfil worker: %w", err)
	}
	settle := cfg.SettleDelay
	if settle <= 0 {
		settle = DefaultSettleDelay
	}
	if err := river.AddWorkerSafely(workers, &ReverseWorker{deps: deps, eng: eng, settle: settle}); err != nil {
		return nil, fmt.Errorf("jobs: add reverse worker: %w", err)
	}
	reportHorizon := cmp.Or(cfg.ReportHorizon, DefaultReportHorizon)
	if err := river.AddWorkerSafely(workers, &ReportWorker{deps: deps, horizon: reportHorizon, now: time.Now,
		call:  cmp.Or(cfg.ReportCallTimeout, DefaultReportCallTimeout),
		retry: NewRetryPolicy(cfg.MaxAttempts, reportHorizon)}); err != nil {
		return nil, fmt.Errorf("jobs: add report worker: %w", err)
	}
	var periodic []*river.PeriodicJob
	if cfg.DeliveryRetention > 0 {
		if err := river.AddWorkerSafely(workers, &RetentionWorker{deps: deps, keep: cfg.DeliveryRetention}); err != nil {
			return nil, fmt.Errorf("jobs: add retention worker: %w", err)
		}
		periodic = append(periodic, retentionPeriodic())
	}
	if deps.Payments != nil {
		if err := river.AddWorkerSafely(workers, &SweepWorker{deps: deps}); err != nil {
			return nil, fmt.Errorf("jobs: add sweep worker: %w", err)
		}
		periodic = append(periodic, sweepPeriodic(cmp.Or(cfg.SweepInterval, DefaultSweepInterval)))
	}
	// Reconciliation needs somewhere to ask: without gateways it is off.
	if deps.Payments != nil && deps.Gateways != nil {
		rc := cfg.Reconcile.withDefaults()
		if err := river.AddWorkerSafely(workers, &ReconcileWorker{deps: deps, cfg: rc, now: time.Now}); err != nil {
			return nil, fmt.Errorf("jobs: add reconcile worker: %w", err)
		}
		periodic = append(periodic, reconcilePeriodic(rc.Interval))
	}
	spans := newRecentSpans()
	client, err := river.NewClient(riverpgxv5.New(deps.Pool), &river.Config{
		// The overflow queue drains tenants over their cap at their cap's
		// pace: a cap running and a cap waiting in process to take over
		// (fairness.go); the default queue serves everyone else meanwhile.
		Queues: map[string]river.QueueConfig{
			QueueDefault: {MaxWorkers: cfg.Workers},
			// No insert ever notifies the overflow queue: it polls, often
			// enough that a job whose over-cap snooze ended runs promptly.
			QueueOverflow: {MaxWorkers: min(cfg.Workers, 2*tenantCap), FetchPollInterval: max(overflowPoll, cfg.FetchCooldown)},
			// Reports to Pay1st on their own few workers: an outage there
			// never takes the workers that credit players (report.go).
			QueueReport: {MaxWorkers: reportWorkers(cfg.Workers)},
		},
		RetryPolicy:          eng.retry,
		PeriodicJobs:         periodic,
		Workers:              workers,
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// River's lines about a job carry its trace too (tracelog.go).
		Logger: riverLogger(deps.Logger, spans),
		// Each job runs in a span continuing its queuer's trace (trace.go),
		// and is counted and timed inside it (metrics.go).
		Middleware: []rivertype.Middleware{newTracing(spans), newMetering(deps.MeterProvider)},
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	if err := registerQueueGauges(deps.MeterProvider, deps.Pool, deps.Logger); err != nil {
		return nil, fmt.Errorf("jobs: queue metrics: %w", err)
	}
	return client, nil
}

// Enqueuer inserts jobs inside callers' transactions. It uses an insert-only
// River client, so services that queue work need no workers.
type Enqueuer struct{ client *river.Client[pgx.Tx] }

// NewEnqueuer returns an Enqueuer over pool. It takes the workers' Config:
// MaxAttempts is stamped on each job at insert. River also uses an insert
// client's FetchCooldown to drop insert notifications sent within it of
// the last one — a job inserted a few ms after another then waits for the
// workers' next poll (1 s) — so it is River's minimum here: notifications
// are cheap, and the workers' own FetchCooldown still bounds fetches.
func NewEnqueuer(pool *pgxpool.Pool, cfg Config, logger *slog.Logger) (*Enqueuer, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown: river.FetchCooldownMin, MaxAttempts: cfg.MaxAttempts, Logger: logger,
		Middleware: []rivertype.Middleware{newTracing(nil)}, // jobs carry their trace (trace.go)
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river insert client: %w", err)
	}
	return &Enqueuer{client: client}, nil
}

// EnqueueFulfilTx queues the fulfilment of a successful payment. River's
// uniqueness on the payment id makes a second call a no-op.
func (e *Enqueuer) EnqueueFulfilTx(ctx context.Context, tx pgx.Tx, env tenant.Env, p payment.Payment) error {
	_, err := e.client.InsertTx(ctx, tx, FulfilArgs{
		PaymentID: p.ID, PartnerCode: env.PartnerCode, Env: env.Name, Reference: p.Reference,
	}, nil)
	if err != nil {
		return fmt.Errorf("jobs: insert fulfil: %w", err)
	}
	return nil
}

// EnqueueFulfilManyTx queues the fulfilments of many successful payments
// in one insert (group-committed webhooks); each stays unique per payment.
func (e *Enqueuer) EnqueueFulfilManyTx(ctx context.Context, tx pgx.Tx, jobs []payment.FulfilJob) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		opts, err := traceOpts(ctx, j.Trace) // each job in its own webhook's trace
		if err != nil {
			return err
		}
		params[i] = river.InsertManyParams{Args: FulfilArgs{
			PaymentID: j.Payment.ID, PartnerCode: j.Env.PartnerCode, Env: j.Env.Name, Reference: j.Payment.Reference,
		}, InsertOpts: opts}
	}
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: insert fulfils: %w", err)
	}
	return nil
}
