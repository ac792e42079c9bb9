package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

const (
	pluginName    = "webhookforward"
	pluginVersion = "1.0.0"
	// maxResponseBytes bounds what is read of a backend's answer; the rest
	// is discarded unread.
	maxResponseBytes = 64 << 10
	// defaultBackoff is the first pause between in-process attempts; it
	// doubles each time.
	defaultBackoff = 250 * time.Millisecond
)

// forwarder implements sdk.Plugin by forwarding each call to the studio's
// backend.
type forwarder struct {
	log *slog.Logger
	now func() time.Time
	// transport and backoff are replaced by tests.
	transport http.RoundTripper
	backoff   time.Duration

	mu          sync.RWMutex
	cfg         config
	client      *http.Client // nil until Configure succeeds
	partnerCode string
	environment string
}

var _ sdk.Plugin = (*forwarder)(nil)

func newForwarder(log *slog.Logger) *forwarder {
	// The plugin's environment is empty, so no proxy variables; the host's
	// network is what the backend is reached through.
	t := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &forwarder{log: log, now: time.Now, transport: t, backoff: defaultBackoff}
}

func (f *forwarder) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:            pluginName,
		Version:         pluginVersion,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities:    []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil, sdk.CapabilityReverse},
	}, nil
}

// Configure validates the settings; an error refuses them and the host
// keeps the previous plugin version active.
func (f *forwarder) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseSettings(req.Settings)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: f.transport,
		// A signed POST is never re-sent somewhere else: a redirect is
		// answered as it is (see outcome).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.client = cfg, client
	f.partnerCode, f.environment = req.PartnerCode, req.Environment
	// Never the URL (it may carry a token) nor the secret.
	f.log.Info("configured", "host", cfg.url.Host, "timeout", cfg.timeout.String(), "retries", cfg.retries)
	return nil
}

func (f *forwarder) config() (config, *http.Client) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cfg, f.client
}

func (f *forwarder) tenant() (partnerCode, environment string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.partnerCode, f.environment
}

func (f *forwarder) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	if req.IdempotencyKey == "" {
		return sdk.Rejected("missing idempotency key"), nil
	}
	return f.deliver(ctx, req.IdempotencyKey, event{
		Type: eventFulfil, IdempotencyKey: req.IdempotencyKey,
		PartnerCode: req.PartnerCode, Environment: req.Environment, PlayerID: req.PlayerID,
		Payment: paymentOf(req.Payment), Items: itemsOf(req.Items),
	}), nil
}

func (f *forwarder) Reverse(ctx context.Context, req sdk.ReverseRequest) (sdk.Result, error) {
	if req.IdempotencyKey == "" {
		return sdk.Rejected("missing idempotency key"), nil
	}
	return f.deliver(ctx, req.IdempotencyKey, event{
		Type: eventReverse, IdempotencyKey: req.IdempotencyKey,
		PartnerCode: req.PartnerCode, Environment: req.Environment, PlayerID: req.PlayerID,
		Payment: paymentOf(req.Payment), Items: itemsOf(req.Items), Reason: string(req.Reason),
	}), nil
}

// deliver posts ev, retrying a retryable answer a few times in process with
// a doubling pause while the host's deadline allows. Whatever is still
// retryable then is answered retry: the host tries again later with the
// same idempotency key, so the backend must treat a repeated key as done.
func (f *forwarder) deliver(ctx context.Context, key string, ev event) sdk.Result {
	cfg, client := f.config()
	if client == nil {
		return sdk.Retry("webhookforward is not configured")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return sdk.Rejected("cannot encode the request: " + err.Error())
	}
	pause := f.backoff
	for try := 0; ; try++ {
		res, retryable := f.attempt(ctx, cfg, client, key, ev.Type, body)
		if !retryable || try >= cfg.retries {
			return res
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < pause+cfg.timeout/2 {
			return res // not enough time left for another useful try
		}
		f.log.Warn("backend attempt failed; trying again", "key", key, "reason", res.Reason, "pause", pause.String())
		select {
		case <-ctx.Done():
			return res
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// attempt sends one signed request and maps the answer to a result, and
// whether trying again may help.
func (f *forwarder) attempt(ctx context.Context, cfg config, client *http.Client, key, kind string, body []byte) (sdk.Result, bool) {
	status, data, err := f.post(ctx, cfg, client, key, kind, body)
	if err != nil {
		r := sdk.Retry(err.Error())
		return r, ctx.Err() == nil
	}
	a := parseAnswer(data)
	reason := func() string {
		msg := "backend answered " + strconv.Itoa(status)
		if c := clean(a.Reason); c != "" {
			msg += ": " + c
		}
		return msg
	}
	switch {
	case status >= 200 && status <= 299:
		return sdk.Fulfilled(clean(a.Reference)), false
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return sdk.Retry(reason()), true
	case status >= 400 && status <= 499:
		return sdk.Rejected(reason()), false
	case status >= 300 && status <= 399:
		// A misconfigured url must not fail payments for good: retried
		// until the tenant fixes the setting.
		return sdk.Retry(reason() + " (redirects are not followed; set url to the final address)"), false
	default:
		return sdk.Retry(reason()), true
	}
}

// post sends one signed request and returns the status and at most
// maxResponseBytes of the body. Errors never quote the URL.
func (f *forwarder) post(ctx context.Context, cfg config, client *http.Client, key, kind string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, errors.New("cannot build the request")
	}
	ts := timestamp(f.now())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", pluginName+"/"+pluginVersion)
	req.Header.Set(headerTimestamp, ts)
	req.Header.Set(headerSignature, sign(cfg.secret, ts, body))
	req.Header.Set(headerEvent, kind)
	if key != "" {
		req.Header.Set(headerIdempotency, key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, f.sendError(ctx, cfg, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, f.sendError(ctx, cfg, err)
	}
	return resp.StatusCode, data, nil
}

// sendError describes a failed exchange without the URL, which may carry a
// token.
func (f *forwarder) sendError(ctx context.Context, cfg config, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("backend did not answer within %s", cfg.timeout)
	case ctx.Err() != nil:
		return errors.New("call cancelled by the host")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errors.New("backend unreachable: " + clean(err.Error()))
}

// LookupUser asks the backend whether the player may pay. It is answered
// while Pay1st waits, so it is tried once: a 2xx answer with "found" (true
// when absent) decides, a 404 is "not found", anything else is an error the
// host reports to Pay1st.
func (f *forwarder) LookupUser(ctx context.Context, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	cfg, client := f.config()
	if client == nil {
		return sdk.LookupUserResponse{}, errors.New("webhookforward is not configured")
	}
	l := &lookup{
		ProductBundleID: req.ProductBundleID, SKU: req.SKU, ExternalReference: req.ExternalReference,
		CurrencyCode: req.CurrencyCode, CountryCode: req.CountryCode, Quantity: req.Quantity,
	}
	if req.Amount.Valid {
		l.Amount = req.Amount.Decimal.String()
	}
	// The lookup request carries no tenant: the plugin's own, from
	// Configure, is sent.
	code, env := f.tenant()
	body, err := json.Marshal(event{Type: eventLookupUser, PartnerCode: code, Environment: env, PlayerID: req.PlayerID, Lookup: l})
	if err != nil {
		return sdk.LookupUserResponse{}, fmt.Errorf("encode lookup: %w", err)
	}
	status, data, err := f.post(ctx, cfg, client, "", eventLookupUser, body)
	if err != nil {
		return sdk.LookupUserResponse{}, err
	}
	a := parseAnswer(data)
	switch {
	case status == http.StatusNotFound || (status >= 200 && status <= 299 && a.Found != nil && !*a.Found):
		return sdk.LookupUserResponse{
			Found:        false,
			ErrorCode:    orDefault(clean(a.ErrorCode), "PLAYER_NOT_FOUND"),
			ErrorMessage: orDefault(clean(a.ErrorMessage), "unknown player"),
		}, nil
	case status >= 200 && status <= 299:
	default:
		return sdk.LookupUserResponse{}, fmt.Errorf("backend answered %d", status)
	}
	out := sdk.LookupUserResponse{
		Found:             true,
		UserID:            orDefault(clean(a.UserID), req.PlayerID),
		ExternalReference: orDefault(clean(a.ExternalReference), req.ExternalReference),
		Amount:            req.Amount,
		CurrencyCode:      orDefault(clean(a.CurrencyCode), req.CurrencyCode),
	}
	if a.Amount != "" {
		// Plain decimals only: an exponent ("1e99999999") is not money and
		// formatting it could exhaust memory.
		d, err := decimal.NewFromString(a.Amount)
		if err != nil || len(a.Amount) > 64 || !plainDecimal.MatchString(a.Amount) {
			return sdk.LookupUserResponse{}, errors.New("backend answered an amount that is not a decimal")
		}
		out.Amount = decimal.NewNullDecimal(d)
	}
	return out, nil
}

var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
