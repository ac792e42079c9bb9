package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// rejectedBodyLimit bounds what is kept of a rejected request's body: enough
// to see what was sent, not enough to let garbage fill the database.
const rejectedBodyLimit = 64 << 10

// recordTimeout bounds recording a refusal after the request's own context.
const recordTimeout = 5 * time.Second

// recordedHeaderLimit bounds each recorded header value.
const recordedHeaderLimit = 512

// recordedHeaders are the request headers kept with each delivery, under
// their canonical names (X-Signature). Never Authorization or cookies: they
// carry credentials.
var recordedHeaders = []string{
	"Content-Type", "Content-Length", "User-Agent", pay1st.HeaderSignature, pay1st.HeaderTimestamp,
	"X-Forwarded-For", "X-Real-Ip", "X-Request-Id", "Traceparent",
}

// WebhookHandler serves the endpoints Pay1st calls. They are plain net/http
// handlers, not Huma operations, because they must see the raw body (to
// verify signatures and keep it) and answer errors in Pay1st's error body;
// they are still described in the OpenAPI document.
type WebhookHandler struct {
	tenants  *tenant.Service
	payments *payment.Service
	ingest   EventIngester // payments when nil
	logger   *slog.Logger
	maxBody  int64
	window   time.Duration
	now      func() time.Time
	// User Info Webhook: the tenants' plugins and how long an answer may take.
	plugins         PluginRegistry
	host            PluginHost
	userInfoTimeout time.Duration
	// limiter is nil when public endpoints are not rate limited.
	limiter *rateLimiter
	metrics webhookMetrics
}

// EventIngester records a verified payment event and returns only after its
// commit: *payment.Service (one transaction per event) and *payment.Batcher
// (concurrent events share commits) both do.
type EventIngester interface {
	IngestEvent(ctx context.Context, env tenant.Env, d payment.Delivery, ev pay1st.PaymentEvent) (payment.Ingested, error)
}

// Register mounts the handlers on mux and documents them in api.
func (h *WebhookHandler) Register(api huma.API, mux *http.ServeMux) {
	documentWebhooks(api.OpenAPI())
	if h.userInfoTimeout <= 0 {
		h.userInfoTimeout = DefaultUserInfoTimeout
	}
	mux.HandleFunc("/pay1st/{env}/{partnerCode}/payment-events", h.observe(h.admit(h.limited(h.paymentEvents, payment.KindPaymentEvent), payment.KindPaymentEvent), payment.KindPaymentEvent))
	mux.HandleFunc("/pay1st/{env}/{partnerCode}/summary", h.observe(h.admit(h.limited(h.summary, payment.KindSummary), payment.KindSummary), payment.KindSummary))
	mux.HandleFunc("/pay1st/{env}/{partnerCode}/user-info", h.observe(h.admit(h.limited(h.userInfo, payment.KindUserInfo), payment.KindUserInfo), payment.KindUserInfo))
	mux.HandleFunc("/pay1st/{env}/{partnerCode}/return/{outcome}", h.observe(h.admit(h.limited(h.customerReturn, payment.KindReturn), payment.KindReturn), payment.KindReturn))
}

// Ack is the body of an accepted webhook.
type Ack struct {
	Status    string `json:"status" enum:"accepted,duplicate" doc:"duplicate when the same event was recorded before; nothing changed."`
	SessionID string `json:"sessionId" example:"c5a552942a9100b99686117d" doc:"Identifies this delivery in partnerhub's records and logs."`
	Reference string `json:"reference,omitempty" example:"C-1795274958-P" doc:"The payment's Pay1st reference."`
}

// reject records a refused request and answers with Pay1st's error body. If
// the refusal cannot be recorded, the answer is 503 so Pay1st sends again:
// nothing it sent goes unrecorded.
func (h *WebhookHandler) reject(ctx context.Context, w http.ResponseWriter, d payment.Delivery, status int, code, msg string) {
	h.rejectReason(ctx, w, d, status, code, msg, msg)
}

// rejectReason is reject recording reason rather than the answered message.
func (h *WebhookHandler) rejectReason(ctx context.Context, w http.ResponseWriter, d payment.Delivery, status int, code, msg, reason string) {
	d.Verdict, d.Reason, d.StatusCode = payment.VerdictRejected, reason, status
	if len(d.Body) > rejectedBodyLimit {
		d.Body, d.BodyTruncated = d.Body[:rejectedBodyLimit], true
	}
	// Recorded even if the caller hung up meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, err := h.payments.RecordDelivery(ctx, d); err != nil {
		h.logger.ErrorContext(ctx, "cannot record rejected delivery", "session_id", d.SessionID, "err", err)
		status, code, msg, reason = http.StatusServiceUnavailable, pay1st.CodeUnavailable, "temporarily unavailable; retry", "not recorded"
		// Not recorded overrides the reason the handler expected to answer.
		setRejectReason(ctx, ReasonUnavailable)
	}
	markRejected(ctx, d, status, code, msg)
	h.logger.InfoContext(ctx, "webhook rejected", "session_id", d.SessionID, "kind", d.Kind,
		"partner_code", d.PartnerCode, "env", d.Env, "status", status, "reason", reason)
	writeJSON(w, status, pay1st.ErrorBody{ErrorMessage: msg, ErrorCode: code, SessionID: d.SessionID})
}

// unavailable answers 503 (Pay1st sends again later) after trying to record
// the delivery; the database may be what failed, so recording may fail too.
func (h *WebhookHandler) unavailable(ctx context.Context, w http.ResponseWriter, d payment.Delivery, cause error) {
	h.logger.ErrorContext(ctx, "webhook not recorded; asking Pay1st to retry", "session_id", d.SessionID,
		"partner_code", d.PartnerCode, "env", d.Env, "err", cause)
	h.reject(ctx, w, d, http.StatusServiceUnavailable, pay1st.CodeUnavailable, "temporarily unavailable; retry")
}

// receivePOST reads a POST webhook's body and resolves its tenant
// environment, answering and recording the refusals every POST endpoint
// shares: another method 405, an unreadable body 400, too large 413, an
// unknown tenant or environment 404, partnerhub unavailable 503. early, when
// set, runs before refusals recorded while the tenant is still unknown.
func (h *WebhookHandler) receivePOST(w http.ResponseWriter, r *http.Request, d *payment.Delivery, early func()) ([]byte, tenant.Env, bool) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(ctx, w, *d, http.StatusMethodNotAllowed, pay1st.CodeMalformed, "method "+r.Method+" not allowed; use POST")
		return nil, tenant.Env{}, false
	}
	body, complete, err := readBody(w, r, h.maxBody)
	d.Body = body
	if err != nil || !complete {
		if early != nil {
			early()
		}
		if err != nil {
			h.reject(ctx, w, *d, http.StatusBadRequest, pay1st.CodeMalformed, "could not read request body")
			return nil, tenant.Env{}, false
		}
		d.BodyTruncated = true
		h.reject(ctx, w, *d, http.StatusRequestEntityTooLarge, pay1st.CodePayloadTooLarge,
			"body larger than the limit of "+strconv.FormatInt(h.maxBody, 10)+" bytes")
		return nil, tenant.Env{}, false
	}
	env, err := h.tenants.Env(ctx, r.PathValue("partnerCode"), r.PathValue("env"))
	if errors.Is(err, tenant.ErrNotFound) {
		h.reject(ctx, w, *d, http.StatusNotFound, pay1st.CodeNotFound, "unknown partnerCode or environment")
		return nil, tenant.Env{}, false
	}
	if err != nil {
		h.unavailable(ctx, w, *d, fmt.Errorf("resolve tenant: %w", err))
		return nil, tenant.Env{}, false
	}
	return body, env, true
}

// readBody reads at most limit bytes; over that it returns what it read and
// false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return body, false, nil
	}
	return body, true, err
}

func (h *WebhookHandler) newDelivery(r *http.Request, kind string) payment.Delivery {
	headers := make(map[string]string, len(recordedHeaders))
	for _, name := range recordedHeaders {
		if v := r.Header.Get(name); v != "" {
			headers[http.CanonicalHeaderKey(name)] = clip(v, recordedHeaderLimit)
		}
	}
	return payment.Delivery{
		SessionID:   newSessionID(),
		PartnerCode: clip(r.PathValue("partnerCode"), 100),
		Env:         clip(r.PathValue("env"), 20),
		Kind:        kind,
		RemoteAddr:  r.RemoteAddr,
		Headers:     headers,
	}
}

// paymentEvents receives Payment Webhook Events (pay1st-protocol.md §1).
// Order matters: nothing is parsed before the caller is authenticated, and
// nothing is acknowledged before it is committed.
func (h *WebhookHandler) paymentEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := h.newDelivery(r, payment.KindPaymentEvent)
	body, env, ok := h.receivePOST(w, r, &d, func() { h.redactEarly(ctx, r, &d) })
	if !ok {
		return
	}
	d.TenantID = env.TenantID
	// What is recorded never holds the webhook token (Pay1st echoes the
	// Webhook URL in partnerWebhookUrl); the signature is checked on the
	// bytes as received.
	d.Body = env.RedactWebhookTokens(body)
	if addr, ok := allowedAddr(r, env); !ok {
		h.reject(ctx, w, d, http.StatusForbidden, pay1st.CodeForbidden,
			"address "+addr+" is not in this environment's IP allow-list")
		return
	}
	if msg := h.authenticate(r, env, body); msg != "" {
		setRejectReason(ctx, authRejection(env.AuthMode))
		h.reject(ctx, w, d, http.StatusUnauthorized, pay1st.CodeUnauthorized, msg)
		return
	}
	body = d.Body
	if env.TenantStatus != tenant.StatusActive {
		// Recorded, not acted on: Pay1st retries, and nothing is lost. Told
		// only to an authenticated caller.
		h.reject(ctx, w, d, http.StatusServiceUnavailable, pay1st.CodeUnavailable, msgSuspended)
		return
	}
	ev, err := pay1st.ParsePaymentEvent(body)
	var fe *pay1st.FieldError
	switch {
	case errors.As(err, &fe):
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeInvalidField, "field "+fe.Field+" "+fe.Problem)
		return
	case err != nil:
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeMalformed, err.Error())
		return
	}
	d.Reference = clip(ev.Reference, pay1st.MaxStringBytes)
	if ev.PartnerCode != env.PartnerCode {
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeTenantMismatch, "partnerCode in the body is not this tenant's")
		return
	}
	if ev.PartnerID != env.PartnerID {
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeTenantMismatch, "partnerId in the body is not this tenant's")
		return
	}
	var ingest EventIngester = h.payments
	if h.ingest != nil {
		ingest = h.ingest
	}
	res, err := ingest.IngestEvent(ctx, env, d, ev)
	if err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("ingest payment event: %w", err))
		return
	}
	ack := Ack{Status: payment.VerdictAccepted, SessionID: d.SessionID, Reference: ev.Reference}
	if res.Duplicate {
		ack.Status = payment.VerdictDuplicate
		markDuplicate(ctx)
	}
	h.logger.InfoContext(ctx, "payment event accepted", "session_id", d.SessionID, "partner_code", env.PartnerCode,
		"env", env.Name, "reference", ev.Reference, "event_status", ev.Status, "duplicate", res.Duplicate,
		"payment_status", res.Status, "fulfil_queued", res.Enqueued)
	writeJSON(w, http.StatusOK, ack)
}

// authenticate checks the caller under the environment's auth mode and
// returns why it is refused, or "" when it passes. Reasons are recorded and
// answered: they never quote a secret.
func (h *WebhookHandler) authenticate(r *http.Request, env tenant.Env, body []byte) string {
	now := h.now()
	switch env.AuthMode {
	case tenant.AuthSignature:
		keys := env.SigningKeys(now)
		if len(keys) == 0 {
			return "no Signing Key is configured for this environment"
		}
		ts, sig := r.Header.Get(pay1st.HeaderTimestamp), r.Header.Get(pay1st.HeaderSignature)
		if ts == "" || sig == "" {
			return "missing " + pay1st.HeaderSignature + " or " + pay1st.HeaderTimestamp + " header"
		}
		if err := pay1st.CheckTimestamp(ts, now, h.window); err != nil {
			return "X-TIMESTAMP outside the accepted window or malformed"
		}
		// The current key, then the replaced one during its grace period.
		for _, k := range keys {
			if pay1st.VerifyRequest(k, ts, body, sig) {
				return ""
			}
		}
		return "signature does not match"
	case tenant.AuthToken:
		// The token travels in the query, which is never recorded or logged.
		token := r.URL.Query().Get("token")
		if token == "" {
			return "missing token query parameter"
		}
		if !env.ValidWebhookToken(token, now) {
			return "token does not match"
		}
		return ""
	case tenant.AuthNone:
		if env.Name != tenant.Staging {
			// The database refuses this too; never trust one guard alone.
			return "auth mode none is refused outside staging"
		}
		return ""
	default:
		return "auth mode " + env.AuthMode + " is not supported"
	}
}

// allowedAddr checks the TCP peer address against the environment's IP
// allow-list and returns it for the refusal message. X-Forwarded-For is not
// trusted: behind a proxy, the proxy's addresses are what the list sees.
func allowedAddr(r *http.Request, env tenant.Env) (string, bool) {
	if len(env.IPAllowList) == 0 {
		return "", true
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		addr = a
	} else {
		return clip(r.RemoteAddr, 64), false
	}
	return addr.Unmap().WithZone("").String(), env.AllowsAddr(addr)
}

// redactEarly removes the webhook token from a body refused before the
// environment was resolved, if the environment can be resolved now.
func (h *WebhookHandler) redactEarly(ctx context.Context, r *http.Request, d *payment.Delivery) {
	if env, err := h.tenants.Env(ctx, r.PathValue("partnerCode"), r.PathValue("env")); err == nil {
		d.Body = env.RedactWebhookTokens(d.Body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newSessionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
