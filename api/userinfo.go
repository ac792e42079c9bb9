package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// DefaultUserInfoTimeout is how long the User Info Webhook waits for the
// plugin when Deps does not say (PARTNERHUB_USER_INFO_TIMEOUT).
const DefaultUserInfoTimeout = 3 * time.Second

// Limits of the User Info Webhook's query.
const (
	maxQueryBytes       = 4096 // the whole raw query, also what is recorded
	maxExternalRefBytes = 256
	maxPluginTextBytes  = 512 // what is passed on of a plugin's answer
)

// skuShape is the catalog's SKU shape (productBundleExternalId).
var skuShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// PluginHost runs tenants' plugin processes (*host.Host).
type PluginHost interface {
	Get(ctx context.Context, key host.Key) (sdk.Plugin, error)
	// Probe checks a candidate for activation or new settings in a
	// process of its own, leaving the live one alone.
	Probe(ctx context.Context, key host.Key) (sdk.Description, error)
}

// PluginRegistry resolves an environment's active plugin, with the
// environment's settings, into the host key that runs it (*plugins.Registry).
type PluginRegistry interface {
	ActiveKey(ctx context.Context, a plugins.ActiveRef) (host.Key, error)
}

// UserInfo is the User Info Webhook's answer for a known player.
type UserInfo struct {
	UserID            string       `json:"userId" doc:"The game's id of the player."`
	ExternalReference string       `json:"externalReference" doc:"The partner's reference for this purchase, if any."`
	Amount            *json.Number `json:"amount,omitempty" doc:"Exact decimal amount, as the game confirms it."`
	CurrencyCode      string       `json:"currencyCode,omitempty" doc:"ISO 4217."`
}

// userInfo answers the User Info Webhook (pay1st-protocol.md §3) through
// the environment's active plugin, within userInfoTimeout: a known player
// is 200, an unknown one 400, and a plugin that is missing, fails or is too
// slow a 5xx, all with Pay1st's bodies and all recorded.
func (h *WebhookHandler) userInfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := h.newDelivery(r, payment.KindUserInfo)
	// The query is what Pay1st sent: keep it (it holds no secret).
	d.Body = []byte(clip(r.URL.RawQuery, maxQueryBytes))
	d.BodyTruncated = len(r.URL.RawQuery) > maxQueryBytes
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.reject(ctx, w, d, http.StatusMethodNotAllowed, pay1st.CodeMalformed, "method "+r.Method+" not allowed; use GET")
		return
	}
	env, err := h.tenants.Env(ctx, r.PathValue("partnerCode"), r.PathValue("env"))
	if errors.Is(err, tenant.ErrNotFound) {
		h.reject(ctx, w, d, http.StatusNotFound, pay1st.CodeNotFound, "unknown partnerCode or environment")
		return
	}
	if err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("resolve tenant: %w", err))
		return
	}
	d.TenantID = env.TenantID
	if msg := checkBasicAuth(r, env); msg != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="partnerhub", charset="UTF-8"`)
		setRejectReason(ctx, ReasonBadCredentials)
		h.reject(ctx, w, d, http.StatusUnauthorized, pay1st.CodeUnauthorized, msg)
		return
	}
	if d.BodyTruncated {
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeMalformed, "query longer than "+strconv.Itoa(maxQueryBytes)+" bytes")
		return
	}
	req, field, problem := parseUserInfoQuery(r.URL.RawQuery)
	if problem != "" {
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeInvalidField, "parameter "+field+" "+problem)
		return
	}
	if env.TenantStatus != tenant.StatusActive {
		h.reject(ctx, w, d, http.StatusServiceUnavailable, pay1st.CodeUnavailable, msgSuspended)
		return
	}
	if env.ActivePluginID == 0 || h.host == nil || h.plugins == nil {
		setRejectReason(ctx, ReasonNoPlugin) // not the database: not "unavailable"
		h.reject(ctx, w, d, http.StatusServiceUnavailable, pay1st.CodeUnavailable, "no active plugin can look up players")
		return
	}
	res, err := h.lookupUser(ctx, env, req)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		h.rejectReason(ctx, w, d, http.StatusGatewayTimeout, pay1st.CodePluginFailed, "player lookup timed out",
			"plugin did not answer within "+h.userInfoTimeout.String())
		return
	case err != nil:
		h.rejectReason(ctx, w, d, http.StatusBadGateway, pay1st.CodePluginFailed, "player lookup failed", clip(err.Error(), 1000))
		return
	case !res.Found:
		code, msg := sanitize(res.ErrorCode), sanitize(res.ErrorMessage)
		if code == "" {
			code = pay1st.CodeUserNotFound
		}
		if msg == "" {
			msg = "unknown player"
		}
		setRejectReason(ctx, ReasonUserNotFound) // code is the plugin's: not a label
		h.rejectReason(ctx, w, d, http.StatusBadRequest, code, msg, "player not found: "+code+": "+msg)
		return
	case res.UserID == "":
		h.rejectReason(ctx, w, d, http.StatusBadGateway, pay1st.CodePluginFailed, "player lookup failed",
			"plugin answered found without a userId")
		return
	}
	out := UserInfo{UserID: sanitize(res.UserID), ExternalReference: sanitize(res.ExternalReference), CurrencyCode: sanitize(res.CurrencyCode)}
	amount := res.Amount
	if !amount.Valid {
		amount = req.Amount
	}
	if amount.Valid {
		n := json.Number(amount.Decimal.String())
		out.Amount = &n
	}
	d.Verdict, d.StatusCode = payment.VerdictAccepted, http.StatusOK
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, err := h.payments.RecordDelivery(recCtx, d); err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("record user info: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// lookupUser asks the active plugin, bounded by userInfoTimeout whatever
// the plugin or its start does: the answer is abandoned at the deadline.
func (h *WebhookHandler) lookupUser(ctx context.Context, env tenant.Env, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, h.userInfoTimeout)
	defer cancel()
	type answer struct {
		res sdk.LookupUserResponse
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := h.callLookup(ctx, env, req)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		if a.err != nil && ctx.Err() != nil {
			return a.res, fmt.Errorf("%w: %w", context.DeadlineExceeded, a.err)
		}
		return a.res, a.err
	case <-ctx.Done():
		return sdk.LookupUserResponse{}, ctx.Err()
	}
}

func (h *WebhookHandler) callLookup(ctx context.Context, env tenant.Env, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	key, err := h.plugins.ActiveKey(ctx, plugins.ActiveRef{
		TenantID: env.TenantID, PartnerCode: env.PartnerCode, Env: env.Name, PluginID: env.ActivePluginID,
	})
	if err != nil {
		return sdk.LookupUserResponse{}, fmt.Errorf("active plugin: %w", err)
	}
	// A cold start is not cut short by this call's deadline: the answer is
	// abandoned at the deadline, but the start (bounded by the host's own
	// start timeout) goes on, so the next lookup finds the plugin running.
	// The error text becomes the delivery's reason, which the tenant reads:
	// a plugin may quote its settings and the host names its paths, so only
	// the redacted, clipped sentence travels (as for jobs and activation).
	p, err := h.host.Get(context.WithoutCancel(ctx), key)
	if err != nil {
		return sdk.LookupUserResponse{}, safeError{"start plugin: " + plugins.StartFailure(err, key.Settings), err}
	}
	res, err := p.LookupUser(ctx, req)
	if err != nil {
		return res, safeError{"plugin lookup: " + plugins.Redact(err.Error(), key.Settings), err}
	}
	return res, nil
}

// safeError shows a text safe for the tenant to read while keeping the
// cause for errors.Is (a timeout is still a timeout: 504, not 502).
type safeError struct {
	msg   string
	cause error
}

func (e safeError) Error() string { return e.msg }
func (e safeError) Unwrap() error { return e.cause }

// checkBasicAuth returns why the caller is refused, or "". Basic auth is
// required once either credential is configured; with only one configured
// nothing passes (fail closed). Both halves are compared in constant time.
func checkBasicAuth(r *http.Request, env tenant.Env) string {
	if env.BasicAuthUsername == "" && env.BasicAuthPassword == "" {
		return ""
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "missing or malformed Basic authorization"
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(env.BasicAuthUsername))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(env.BasicAuthPassword))
	if u&p != 1 || env.BasicAuthUsername == "" || env.BasicAuthPassword == "" {
		return "Basic credentials do not match"
	}
	return ""
}

// parseUserInfoQuery validates every parameter of §3 and returns the
// plugin's request, or the first bad parameter and why. Unknown parameters
// are ignored; a known one given twice is refused (which would count?).
func parseUserInfoQuery(raw string) (sdk.LookupUserRequest, string, string) {
	var req sdk.LookupUserRequest
	q, err := url.ParseQuery(raw)
	if err != nil {
		return req, "query", "is not valid URL encoding"
	}
	get := func(name string) (string, bool, string) {
		vs, ok := q[name]
		switch {
		case !ok:
			return "", false, ""
		case len(vs) > 1:
			return "", true, "is given more than once"
		}
		return vs[0], true, ""
	}
	type param struct {
		name  string
		apply func(v string) string
	}
	params := []param{
		{"playerId", func(v string) string { req.PlayerID = v; return pay1st.CheckPlayerID(v) }},
		{"productBundleId", func(v string) string {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return "must be a positive integer"
			}
			req.ProductBundleID = n
			return ""
		}},
		{"productBundleExternalId", func(v string) string {
			if !skuShape.MatchString(v) {
				return "must be 1-64 characters A-Z a-z 0-9 . _ -"
			}
			req.SKU = v
			return ""
		}},
		{"externalReference", func(v string) string {
			req.ExternalReference = v
			return pay1st.CheckText(v, maxExternalRefBytes)
		}},
		{"amount", func(v string) string {
			d, problem := pay1st.ParseAmount(v)
			req.Amount = decimal.NewNullDecimal(d)
			return problem
		}},
		{"currencyCode", func(v string) string { req.CurrencyCode = v; return upperCode(v, 3) }},
		{"countryCode", func(v string) string { req.CountryCode = v; return upperCode(v, 2) }},
		{"quantity", func(v string) string {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > 1_000_000 {
				return "must be an integer from 1 to 1000000"
			}
			req.Quantity = n
			return ""
		}},
	}
	for _, p := range params {
		v, ok, problem := get(p.name)
		if problem != "" {
			return req, p.name, problem
		}
		if !ok {
			if p.name == "playerId" {
				return req, p.name, "is missing"
			}
			continue
		}
		if problem := p.apply(v); problem != "" {
			return req, p.name, problem
		}
	}
	return req, "", ""
}

func upperCode(v string, n int) string {
	ok := len(v) == n
	for i := 0; ok && i < n; i++ {
		ok = 'A' <= v[i] && v[i] <= 'Z'
	}
	if !ok {
		return fmt.Sprintf("must be %d upper-case letters A-Z", n)
	}
	return ""
}

// sanitize bounds a plugin's text before it reaches Pay1st or a log: valid
// UTF-8, no control characters, at most maxPluginTextBytes.
func sanitize(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\uFFFD' || r < 0x20 || (r >= 0x7f && r < 0xa0) {
			continue
		}
		out = append(out, r)
	}
	return clip(string(out), maxPluginTextBytes)
}
