package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/migrations"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

// services is everything serve wires together; dev reuses it to seed.
type services struct {
	pool     *pgxpool.Pool
	tenants  *tenant.Service
	payments *payment.Service
	plugins  *plugins.Registry
	// gateways are the Pay1st Gateway clients (orders, reports,
	// reconciliation); dev mode adds the simulator's.
	gateways *pay1st.Gateways
	// sim is the in-process simulator; nil when PARTNERHUB_SIMULATOR=off.
	sim *inProcessSim
}

// A job's timeout is the plugin's start and call timeouts plus jobMargin:
// waiting for its tenant's slot (up to 5 s) and its database work. River
// may rescue a job only rescueMargin past that: an attempt still records
// its outcome for up to 10 s after its deadline, and River completes jobs
// in batches.
const (
	jobMargin    = 10 * time.Second
	rescueMargin = time.Minute
)

func openPool(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx's parse error may quote the URL, password included.
		return nil, fmt.Errorf("%w: PARTNERHUB_DATABASE_URL is not a valid Postgres URL", config.ErrInvalid)
	}
	pc.MaxConns = cfg.DBMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	return pool, nil
}

func migrate(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, logger); err != nil {
		return err
	}
	logger.InfoContext(ctx, "database is up to date")
	return nil
}

// newGateways builds the Pay1st Gateway client of each environment that
// has a base URL configured; the others have none (pay1st.ErrNoGateway).
func newGateways(cfg config.Config, logger *slog.Logger, mp metric.MeterProvider) (*pay1st.Gateways, error) {
	client := func(env, base, checkout string) (*pay1st.Client, error) {
		if base == "" {
			return nil, nil
		}
		c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: base, CheckoutBaseURL: checkout,
			Timeout: cfg.Pay1stTimeout, MaxAttempts: cfg.Pay1stMaxAttempts, TokenLifetime: cfg.Pay1stTokenLifetime,
			Logger: logger.With("env", env), MeterProvider: mp})
		if err != nil {
			return nil, fmt.Errorf("%w: Pay1st %s gateway: %w", config.ErrInvalid, env, err)
		}
		return c, nil
	}
	staging, err := client(tenant.Staging, cfg.Pay1stStagingURL, cfg.Pay1stStagingCheckoutURL)
	if err != nil {
		return nil, err
	}
	production, err := client(tenant.Production, cfg.Pay1stProductionURL, cfg.Pay1stProductionCheckoutURL)
	if err != nil {
		return nil, err
	}
	return pay1st.NewGateways(staging, production), nil
}

// serve runs the HTTP server and the job workers until ctx is cancelled, then
// shuts down in order: stop taking requests, finish jobs, stop plugins.
// ready, when set, is called with the services and address once the server
// listens.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, ready func(services, net.Addr) error) error {
	shutdownTelemetry, err := telemetry.Setup(ctx, version(), os.Getenv, logger)
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTelemetry(context.WithoutCancel(ctx)) }()

	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// One meter provider, injected into each component (none records
	// anything unless /metrics or an OTEL_* exporter is configured). Shut
	// down (a last OTLP push reads the queue) before the pool closes.
	metrics, err := telemetry.NewMetrics(ctx, telemetry.MetricsConfig{Version: version(),
		Prometheus: cfg.MetricsListen != "", Getenv: os.Getenv, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: a collector that does not answer must not hold the exit.
		// A failed last push loses the final interval's metrics: say so.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := metrics.Shutdown(sctx); err != nil {
			logger.Warn("metrics shutdown", "err", err)
		}
	}()
	box, err := seal.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	svc := services{pool: pool, tenants: tenant.NewService(pool, box,
		tenant.WithSecretGrace(cfg.SigningKeyGrace), tenant.WithLogger(logger.With("component", "tenant")))}
	svc.plugins = plugins.NewRegistry(pool, plugins.WithSealer(box), plugins.WithAuditor(svc.tenants),
		plugins.WithMaxSize(cfg.PluginMaxSize), plugins.WithTempDir(filepath.Join(cfg.DataDir, "plugins", "uploads")),
		plugins.WithQuota(plugins.Quota{MaxPlugins: cfg.PluginMaxPerTenant, MaxBytes: cfg.PluginMaxBytesPerTenant}),
		plugins.WithLogger(logger.With("component", "plugins")))
	// Other nodes' tenant changes reach this node's environment cache by
	// Postgres NOTIFY. The watcher has its own connection; it is stopped and
	// waited for before the pool closes (defers run in reverse).
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := svc.tenants.WatchChanges(watchCtx, cfg.DatabaseURL); err != nil {
			logger.ErrorContext(ctx, "tenant change watcher did not start; other nodes' changes are seen within seconds", "err", err)
		}
	}()
	defer func() { stopWatch(); <-watchDone }()
	if cfg.OperatorKey != "" {
		err := svc.tenants.EnsureOperatorKey(ctx, cfg.OperatorKey, "bootstrap")
		switch {
		case errors.Is(err, tenant.ErrKeyRevoked):
			logger.WarnContext(ctx, "PARTNERHUB_OPERATOR_KEY was revoked through the API and does not work; remove it from the configuration")
		case err != nil:
			return fmt.Errorf("PARTNERHUB_OPERATOR_KEY: %w", err)
		}
	}
	jobsCfg := jobs.Config{
		Workers: cfg.JobWorkers, FetchCooldown: cfg.JobFetchCooldown,
		FetchPollInterval: cfg.JobFetchPollInterval, MaxAttempts: cfg.JobMaxAttempts,
		JobTimeout:        cfg.PluginStartTimeout + cfg.PluginCallTimeout + jobMargin,
		DeliveryRetention: cfg.DeliveryRetention,
		RescueAfter:       cfg.JobRescueAfter,
		RetryHorizon:      cfg.JobRetryHorizon, TenantConcurrency: cfg.JobTenantConcurrency, TenantBurst: cfg.JobTenantBurst,
		ReportHorizon: cfg.JobReportHorizon,
		// The client's worst case: every try timed out, each backoff at its
		// longest.
		ReportCallTimeout: time.Duration(cfg.Pay1stMaxAttempts)*cfg.Pay1stTimeout +
			time.Duration(cfg.Pay1stMaxAttempts-1)*pay1st.DefaultRetryMaxDelay,
		BreakerFailures: cfg.JobBreakerFailures, BreakerCoolOff: cfg.JobBreakerCoolOff,
		Reconcile: jobs.ReconcileConfig{Interval: cfg.ReconcileInterval, After: cfg.ReconcileAfter,
			GiveUpAfter: cfg.ReconcileGiveUp, Batch: cfg.ReconcileBatch},
	}
	if cfg.TestTransactionTimeout+5*time.Second > cfg.WriteTimeout {
		// create-test-transaction answers after its wait: it must fit.
		return fmt.Errorf("%w: PARTNERHUB_TEST_TRANSACTION_TIMEOUT (%s) must be at least 5s under PARTNERHUB_HTTP_WRITE_TIMEOUT (%s)",
			config.ErrInvalid, cfg.TestTransactionTimeout, cfg.WriteTimeout)
	}
	if cfg.ReconcileGiveUp <= cfg.ReconcileAfter {
		return fmt.Errorf("%w: PARTNERHUB_RECONCILE_GIVE_UP (%s) must be more than PARTNERHUB_RECONCILE_AFTER (%s)",
			config.ErrInvalid, cfg.ReconcileGiveUp, cfg.ReconcileAfter)
	}
	if least := max(jobsCfg.JobTimeout, jobsCfg.ReportJobTimeout()) + rescueMargin; jobsCfg.RescueAfter < least {
		// River would rescue jobs that are still running, or still
		// recording their outcome, on a live node: fulfil jobs and
		// fulfilment reports (their own timeout) alike.
		return fmt.Errorf("%w: PARTNERHUB_JOB_RESCUE_AFTER (%s) must be at least the longer job timeout plus a minute, %s (job timeouts: plugin start + call timeout + 10s; a fulfilment report's, from PARTNERHUB_PAY1ST_TIMEOUT and _MAX_ATTEMPTS, %s)",
			config.ErrInvalid, jobsCfg.RescueAfter, least, jobsCfg.ReportJobTimeout())
	}
	enq, err := jobs.NewEnqueuer(pool, jobsCfg, logger)
	if err != nil {
		return err
	}
	svc.payments = payment.NewService(pool, enq)
	// The in-process simulator: test transactions, and dev mode's staging
	// Pay1st (simulator.go).
	if svc.sim, err = startInProcessSim(cfg, logger.With("component", "simulator")); err != nil {
		return err
	}
	defer svc.sim.close()
	if svc.sim != nil && cfg.Simulator == config.SimulatorStaging {
		cfg.Pay1stStagingURL, cfg.Pay1stStagingCheckoutURL = svc.sim.srv.URL, ""
	}
	if svc.gateways, err = newGateways(cfg, logger.With("component", "pay1st"), metrics.Provider); err != nil {
		return err
	}
	var tests *stagingtest.Service
	if svc.sim != nil {
		svc.gateways.SetSimulator(svc.sim.client)
		tests = stagingtest.New(stagingtest.Config{Pool: pool, Tenants: svc.tenants, Payments: svc.payments,
			Simulator: svc.sim.simulator(), Wait: cfg.TestTransactionTimeout, Logger: logger.With("component", "test-transactions")})
	}
	// create-order answers after Pay1st did: its calls end 5 s before the
	// HTTP write timeout.
	svc.payments.SetCheckout(payment.Checkout{Tenants: svc.tenants, Gateways: svc.gateways,
		PublicURL: cfg.PublicURL, CallTimeout: max(cfg.WriteTimeout-5*time.Second, time.Second),
		Logger: logger.With("component", "orders")})
	// Concurrent payment events share commits (group commit); a batch max of
	// 1 keeps one transaction per event.
	var ingest api.EventIngester
	if cfg.IngestBatchMax > 1 {
		batcher := payment.NewBatcher(svc.payments, payment.BatchConfig{
			MaxWait: cfg.IngestBatchWait, MaxEvents: cfg.IngestBatchMax,
			Committers: max(1, min(int(cfg.DBMaxConns)/2, 4)),
			Logger:     logger.With("component", "ingest"),
		})
		// Runs before pool.Close and after the HTTP server has drained.
		defer batcher.Close()
		ingest = batcher
	}

	pluginHost, err := host.New(host.Config{
		CacheDir:     filepath.Join(cfg.DataDir, "plugins", "cache"),
		WorkDir:      filepath.Join(cfg.DataDir, "plugins", "work"),
		StartTimeout: cfg.PluginStartTimeout,
		CallTimeout:  cfg.PluginCallTimeout,
		RunAsUser:    cfg.PluginUser,
		UIDBase:      cfg.PluginUIDBase,
		UIDCount:     cfg.PluginUIDCount,
		MaxFetches:   cfg.PluginMaxFetches,
		CacheTTL:     cfg.PluginCacheTTL,
		MaxProcesses: cfg.PluginMaxProcesses,
		IdleTimeout:  cfg.PluginIdleTimeout,
		MaxCalls:     cfg.PluginMaxCalls,
		Limits: host.Limits{
			MemoryBytes: uint64(cfg.PluginMemoryLimit),
			CPUTime:     cfg.PluginCPULimit,
			Processes:   uint64(cfg.PluginMaxProcs),
			OpenFiles:   uint64(cfg.PluginMaxFiles),
		},
		Logger:        logger.With("component", "plugins"),
		MeterProvider: metrics.Provider,
	}, svc.plugins)
	if err != nil {
		return err
	}
	defer func() { _ = pluginHost.Close() }()

	worker, err := jobs.NewClient(jobs.Deps{
		Pool: pool, Tenants: svc.tenants, Payments: svc.payments, Plugins: svc.plugins, Host: pluginHost,
		Logger: logger.With("component", "jobs"), Gateways: svc.gateways, MeterProvider: metrics.Provider,
	}, jobsCfg)
	if err != nil {
		return err
	}

	handler := api.New(api.Deps{
		Tenants: svc.tenants, Payments: svc.payments, Ingest: ingest, Logger: logger,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: cfg.MaxBodyBytes, SignatureWindow: cfg.SignatureWindow,
		PublicURL: cfg.PublicURL,
		Plugins:   svc.plugins, PluginHost: pluginHost, UserInfoTimeout: cfg.UserInfoTimeout,
		PluginLimits: api.PluginLimits{UploadMinRate: cfg.PluginUploadMinRate, UploadTimeout: cfg.PluginUploadTimeout,
			ActivateTimeout: cfg.PluginActivateTimeout},
		RateLimitPerTenant: float64(cfg.RateLimitPerTenant), RateLimitBurst: cfg.RateLimitBurst,
		TestTransactions: tests, MeterProvider: metrics.Provider,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20, // above api.MaxRequestHeaderBytes, which answers in Pay1st's body
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if h := metrics.Handler(); h != nil {
		stopMetrics, err := serveMetrics(cfg.MetricsListen, h, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = stopMetrics(stopCtx)
		}()
	}
	svc.sim.deliverTo(ln.Addr())
	// Not ctx: River treats a cancelled start context as StopAndCancel, which
	// would cut running plugin calls at the first signal. Shutdown below stops
	// it gracefully instead.
	if err := worker.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return fmt.Errorf("start job workers: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.InfoContext(ctx, "partnerhub serving", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)

	if ready != nil {
		if err := ready(svc, ln.Addr()); err != nil {
			cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(cancelCtx)
			_ = worker.StopAndCancel(cancelCtx)
			return err
		}
	}

	select {
	case err = <-served:
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		logger.Warn("http shutdown", "err", serr)
	}
	// Let running jobs finish; past the deadline cancel them: River puts them
	// back to be retried, and plugins get the same idempotency key.
	if serr := worker.Stop(shutdownCtx); serr != nil {
		logger.Warn("jobs did not finish in time; cancelling", "err", serr)
		cancelCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancelStop()
		_ = worker.StopAndCancel(cancelCtx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
