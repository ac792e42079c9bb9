package pay1st

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Defaults of ClientConfig. Pay1st documents none of these; they are ours.
const (
	// DefaultClientTimeout bounds one HTTP attempt, body included.
	DefaultClientTimeout = 15 * time.Second
	// DefaultMaxAttempts is how many times a call is tried in all when Pay1st
	// answers 5xx or the network fails.
	DefaultMaxAttempts = 4
	// DefaultRetryBaseDelay and DefaultRetryMaxDelay bound the exponential
	// backoff (full jitter) between attempts.
	DefaultRetryBaseDelay = 200 * time.Millisecond
	DefaultRetryMaxDelay  = 5 * time.Second
	// DefaultTokenLifetime is how long an access token is used before it is
	// refreshed. Pay1st's token response carries no expiry, so the client
	// assumes one: short enough to stay under any plausible server-side
	// lifetime (an hour is common), long enough to refresh rarely. A 401
	// refreshes earlier anyway.
	DefaultTokenLifetime = 50 * time.Minute
	// DefaultMaxResponseBytes bounds every response body read.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxCachedTokens bounds the token cache (one entry per set of
	// credentials).
	DefaultMaxCachedTokens = 10000
)

// Content types of the Gateway API (protocol §5).
const (
	ContentTypeAuth    = "application/vnd.carry1st.payments.partnerauthentication+json"
	ContentTypePayment = "application/vnd.carry1st.payments.payment+json"
	// ContentTypeJSON is used where Pay1st documents no content type
	// (fulfilment completion, refresh).
	ContentTypeJSON = "application/json"
)

// Paths of the Gateway API, relative to the environment's base URL.
const (
	PathToken       = "/api/pay1st/auth/token"
	PathRefresh     = "/api/pay1st/auth/refresh"
	PathCreate      = "/api/pay1st/payments/create"
	PathPayments    = "/api/pay1st/payments"
	PathFulfilments = "/api/pay1st/payments/fulfilments"
	// HeaderAccessToken carries "Bearer <accessToken>" on every non-auth call.
	HeaderAccessToken = "AccessToken"
	// RoleAPIUser is the only role partnerhub asks for.
	RoleAPIUser = "API_USER"
)

// Credentials are one tenant environment's Pay1st Gateway credentials, from
// the Pay1st Console. They print as a redacted placeholder, so a stray %v or
// slog attribute cannot leak them.
type Credentials struct {
	APIKey     string
	APISecret  string
	SigningKey string
}

// String hides everything but the API key (an identifier, not a secret).
func (c Credentials) String() string {
	return "pay1st.Credentials{APIKey:" + c.APIKey + ", secrets redacted}"
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ClientConfig configures a Client for one Pay1st environment. Zero fields
// take the defaults above.
type ClientConfig struct {
	// BaseURL of the Gateway API, e.g. https://sandbox.example.com (no
	// trailing path). Required.
	BaseURL string
	// CheckoutBaseURL is the "payments base" of checkout links
	// (CheckoutURL); BaseURL when empty.
	CheckoutBaseURL string
	// HTTPClient sends the requests; a fresh http.Client when nil. Its own
	// Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Timeout bounds each attempt.
	Timeout time.Duration
	// MaxAttempts is the total number of tries of one call (≥ 1).
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the backoff between attempts.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// TokenLifetime is how long an access token is used before refreshing.
	TokenLifetime time.Duration
	// MaxResponseBytes bounds each response body.
	MaxResponseBytes int64
	// MaxCachedTokens bounds the token cache.
	MaxCachedTokens int
	// Logger receives debug and warning records; nothing when nil. No
	// record ever holds a secret, a token or a body.
	Logger *slog.Logger
	// Now is the clock (X-TIMESTAMP, token age); time.Now when nil.
	Now func() time.Time
	// MeterProvider receives the client's metrics (metrics.go); none when
	// nil.
	MeterProvider metric.MeterProvider
}

// Client calls one Pay1st environment's Gateway API on behalf of any number
// of partners: each call takes the partner's Credentials, and access tokens
// are cached per Credentials. It is the one part of package pay1st with I/O.
// Safe for concurrent use.
type Client struct {
	cfg     ClientConfig
	base    *url.URL
	http    *http.Client
	logger  *slog.Logger
	tokens  tokenCache
	metrics clientMetrics
}

// NewClient checks cfg and fills its defaults.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("pay1st: base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.CheckoutBaseURL == "" {
		cfg.CheckoutBaseURL = base.String()
	}
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 || cfg.RetryBaseDelay < 0 || cfg.RetryMaxDelay < 0 ||
		cfg.TokenLifetime < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxCachedTokens < 0 {
		return nil, errors.New("pay1st: client limits must not be negative")
	}
	setDefault(&cfg.Timeout, DefaultClientTimeout)
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.RetryBaseDelay, DefaultRetryBaseDelay)
	setDefault(&cfg.RetryMaxDelay, DefaultRetryMaxDelay)
	setDefault(&cfg.TokenLifetime, DefaultTokenLifetime)
	setDefault(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&cfg.MaxCachedTokens, DefaultMaxCachedTokens)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, base: base, http: hc, logger: logger, metrics: newClientMetrics(cfg.MeterProvider)}
	c.tokens.entries = map[tokenKey]*tokenEntry{}
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// call is one Gateway API request, retried as a unit.
type call struct {
	op          string // for errors and logs, e.g. "create payment"
	method      string
	path        string
	query       url.Values
	contentType string
	body        []byte
	// auth, when set, replaces the token and signature headers (the token
	// endpoints authenticate otherwise).
	auth func(*http.Request)
	// secrets are scrubbed from error messages quoted from Pay1st, should it
	// echo what we sent.
	secrets []string
	// ignoreReply: the call's reply body is not used, so a 2xx is success
	// as soon as its status arrives, whatever its body (too large, cut
	// short): a POST with effects, taken by Pay1st, is not sent again
	// because of its reply's body.
	ignoreReply bool
	// noResendOnTimeout: an attempt whose per-try timeout passed is not
	// sent again by the client — Pay1st may have taken it, and the
	// caller's own retries (a job's) decide when to send it again.
	noResendOnTimeout bool
	// refreshOn401: a 401 answer is followed by a token refresh and another
	// try (set by do for the first try of a token-authenticated call), so
	// its attempt counts as retried, not failed.
	refreshOn401 bool
}

// do runs c with retries on 5xx and network errors and returns the body of a
// 2xx answer. Non-auth calls carry the partner's token and a fresh signature
// per attempt; a 401 refreshes the token once and tries again.
func (c *Client) do(ctx context.Context, creds Credentials, cl call) ([]byte, error) {
	if sc := callScopeOf(ctx); sc != nil {
		cl.secrets = append(cl.secrets, sc.Secrets...)
	}
	refreshed := false
	for {
		var token string
		if cl.auth == nil {
			var err error
			if token, err = c.tokens.get(ctx, c, creds); err != nil {
				return nil, err
			}
		}
		cl.secrets = append(cl.secrets, creds.APISecret, creds.SigningKey, token)
		cl.refreshOn401 = cl.auth == nil && !refreshed
		body, err := c.retry(ctx, cl, func(req *http.Request) {
			if cl.auth != nil {
				cl.auth(req)
				return
			}
			ts := c.cfg.Now().UTC().Format(time.RFC3339Nano)
			req.Header.Set(HeaderAccessToken, "Bearer "+token)
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, SignRequest(creds.SigningKey, ts, cl.body))
		})
		if cl.refreshOn401 && errors.Is(err, ErrUnauthorized) {
			// The token may have expired early or been revoked: once, with a
			// new one. A second 401 is the answer.
			c.logger.DebugContext(ctx, "pay1st token refused; refreshing", "op", cl.op, "api_key", creds.APIKey)
			c.tokens.invalidate(ctx, creds, token)
			refreshed = true
			continue
		}
		return body, err
	}
}

// retry sends cl up to MaxAttempts times while the failure is transient.
func (c *Client) retry(ctx context.Context, cl call, sign func(*http.Request)) ([]byte, error) {
	var last error
	for attempt := 1; ; attempt++ {
		began := time.Now()
		body, err := c.once(ctx, cl, sign)
		if cl.auth == nil && err != nil && retryable(err) {
			if sc := callScopeOf(ctx); sc != nil {
				sc.ambiguous.Store(true)
			}
		}
		timedOut := cl.noResendOnTimeout && errors.Is(err, context.DeadlineExceeded)
		if err == nil || !retryable(err) || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil || timedOut {
			c.metrics.attempted(ctx, cl.op, time.Since(began), err, cl.refreshOn401 && errors.Is(err, ErrUnauthorized))
			if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (after: %w)", ctx.Err(), err)
			}
			return body, err
		}
		c.metrics.attempted(ctx, cl.op, time.Since(began), err, true)
		last = err
		delay := c.backoff(attempt)
		c.logger.WarnContext(ctx, "pay1st call failed; retrying", "op", cl.op, "attempt", attempt,
			"delay", delay, "err", last)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("pay1st: %s: %w (after: %w)", cl.op, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// backoff is full jitter over an exponential ceiling: retries of many
// callers after one outage spread instead of arriving together.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.cfg.RetryBaseDelay << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > c.cfg.RetryMaxDelay {
		ceiling = c.cfg.RetryMaxDelay
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(ceiling+1))
}

// once sends one attempt under the per-attempt timeout.
func (c *Client) once(ctx context.Context, cl call, sign func(*http.Request)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path += cl.path
	u.RawQuery = cl.query.Encode()
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("pay1st: %s: %w", cl.op, err)
	}
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	req.Header.Set("Accept", "application/json")
	sign(req)
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the URL, which holds no secret (references only).
		return nil, &networkError{op: cl.op, err: err}
	}
	defer resp.Body.Close()
	if cl.ignoreReply && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil, nil // the status is the answer; the body is not read
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, &networkError{op: cl.op, err: fmt.Errorf("read response: %w", err)}
	}
	if int64(len(body)) > c.cfg.MaxResponseBytes {
		return nil, &tooLargeError{op: cl.op, status: resp.StatusCode, limit: c.cfg.MaxResponseBytes}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(cl.op, resp.StatusCode, body, cl.secrets)
	}
	return body, nil
}

// tokenKey identifies a set of credentials without keeping the secret in
// the key (it is in the entry, which needs it to fetch tokens).
type tokenKey struct {
	apiKey string
	secret [32]byte // SHA-256 of the API secret
}

// tokenCache holds one entry per credentials. The map lock is only held to
// find an entry; each entry serialises its own fetches.
type tokenCache struct {
	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
}

// tokenEntry is one partner's tokens. sem (capacity 1) lets exactly one
// caller fetch or refresh at a time while the others wait, or give up when
// their context ends.
type tokenEntry struct {
	sem     chan struct{}
	access  string
	refresh string
	expires time.Time // when access is refreshed proactively
}

func (tc *tokenCache) entry(creds Credentials, limit int) *tokenEntry {
	k := tokenKey{apiKey: creds.APIKey, secret: sha256Sum(creds.APISecret)}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[k]
	if !ok {
		if len(tc.entries) >= limit {
			for old := range tc.entries { // any entry: it only costs a new token
				delete(tc.entries, old)
				break
			}
		}
		e = &tokenEntry{sem: make(chan struct{}, 1)}
		tc.entries[k] = e
	}
	return e
}

// get returns a valid access token for creds, fetching or refreshing it if
// needed.
func (tc *tokenCache) get(ctx context.Context, c *Client, creds Credentials) (string, error) {
	e := tc.entry(creds, c.cfg.MaxCachedTokens)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("pay1st: access token: %w", ctx.Err())
	}
	defer func() { <-e.sem }()
	now := c.cfg.Now()
	if e.access != "" && now.Before(e.expires) {
		return e.access, nil
	}
	if e.refresh != "" {
		tok, err := c.refreshToken(ctx, creds, e.refresh)
		if err == nil {
			e.set(tok, now.Add(c.cfg.TokenLifetime))
			return e.access, nil
		}
		if !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrBadRequest) {
			return "", err
		}
		// The refresh token is no good any more: start over.
		c.logger.DebugContext(ctx, "pay1st refresh refused; requesting a new token", "api_key", creds.APIKey)
		e.refresh = ""
	}
	tok, err := c.requestToken(ctx, creds)
	if err != nil {
		return "", err
	}
	e.set(tok, now.Add(c.cfg.TokenLifetime))
	return e.access, nil
}

func (e *tokenEntry) set(t tokenResponse, expires time.Time) {
	e.access, e.expires = t.AccessToken, expires
	if t.RefreshToken != "" {
		e.refresh = t.RefreshToken
	}
}

// invalidate forgets token if it is still the current one, so that of many
// callers refused with the same token only the first makes the next get
// refresh.
func (tc *tokenCache) invalidate(ctx context.Context, creds Credentials, token string) {
	k := tokenKey{apiKey: creds.APIKey, secret: sha256Sum(creds.APISecret)}
	tc.mu.Lock()
	e := tc.entries[k]
	tc.mu.Unlock()
	if e == nil {
		return
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return // the caller's next get fails on ctx anyway
	}
	if e.access == token {
		e.access = ""
	}
	<-e.sem
}

// tooLargeError is an answer whose body exceeded MaxResponseBytes; it is
// ErrResponseTooLarge, and keeps the status for the metrics' status class
// (a 5xx error page is not a 2xx).
type tooLargeError struct {
	op     string
	status int
	limit  int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("pay1st: %s: %v (status %d, limit %d bytes)", e.op, ErrResponseTooLarge, e.status, e.limit)
}

func (e *tooLargeError) Unwrap() error { return ErrResponseTooLarge }
