// Package sim is a fake Pay1st for tests, dev mode and benchmarks. It serves
// the Gateway API partnerhub calls (tokens, create and query payment,
// fulfilment completion), checking every request as a strict server would,
// and drives payments' lives by sending correctly signed Payment Webhook
// Events and Summary Webhooks to partnerhub, with duplicates, out-of-order
// delivery and lost webhooks on request. It records every request it
// received and every webhook it sent, for assertions.
//
// Where Pay1st is silent, the simulator's choices are marked [sim] in the
// comments and listed in docs/pay1st-sim.md.
package sim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Defaults of Options.
const (
	DefaultTokenLifetime   = time.Hour
	DefaultRefreshLifetime = 24 * time.Hour
	DefaultMaxBodyBytes    = 1 << 20
	DefaultMaxLog          = 10000
	DefaultWebhookTimeout  = 10 * time.Second
)

// Partner is a Pay1st partner the simulator knows, with one environment's
// credentials and URLs.
type Partner struct {
	PartnerID   int64  `json:"partnerId"`
	PartnerCode string `json:"partnerCode"`
	APIKey      string `json:"apiKey"`
	APISecret   string `json:"apiSecret"`
	SigningKey  string `json:"signingKey"`
	// WebhookURL receives Payment Webhook Events unless a payment's create
	// request names another.
	WebhookURL string `json:"webhookUrl,omitempty"`
	// SummaryURL receives Summary Webhooks, signed with the Basic Auth
	// credentials below.
	SummaryURL        string `json:"summaryUrl,omitempty"`
	BasicAuthUsername string `json:"basicAuthUsername,omitempty"`
	BasicAuthPassword string `json:"basicAuthPassword,omitempty"`
}

// Options configure a Simulator. Zero values take the defaults.
type Options struct {
	Partners []Partner
	// TokenLifetime and RefreshLifetime: how long issued tokens are accepted.
	TokenLifetime   time.Duration
	RefreshLifetime time.Duration
	// TimestampWindow is the accepted X-TIMESTAMP skew (±).
	TimestampWindow time.Duration
	// MaxBodyBytes bounds request bodies (413 above).
	MaxBodyBytes int64
	// MaxLog bounds each log (requests, webhooks); when one is full, its
	// older half goes.
	MaxLog int
	// LenientAmounts turns off the check that a payment's amount is the sum
	// of its products' price × quantity.
	LenientAmounts bool
	// HTTPClient sends webhooks; one with WebhookTimeout when nil.
	HTTPClient     *http.Client
	WebhookTimeout time.Duration
	// Logger gets one record per request and webhook; nothing when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NoControl leaves out the unauthenticated control endpoints
	// (ControlPrefix): a simulator inside a multi-tenant process is driven
	// through its Go methods only, since anything that can reach its port
	// (a tenant's plugin, say) could otherwise read others' payments and
	// have it send them events signed with their keys.
	NoControl bool
}

// Simulator is the fake Pay1st, an http.Handler. Safe for concurrent use.
type Simulator struct {
	opts   Options
	logger *slog.Logger
	mux    *http.ServeMux

	mu        sync.Mutex
	partners  map[string]*Partner // by API key
	byCode    map[string]*Partner
	access    map[string]token // access token → owner
	refresh   map[string]token
	payments  map[string]*payment // by reference
	byPartRef map[string]string   // partnerCode + "\x00" + partnerReference → reference
	issued    int                 // tokens issued, to sweep expired ones now and then
	requests  []Request
	webhooks  []Webhook
}

type token struct {
	partner *Partner
	expires time.Time
}

// New checks the partners and builds a Simulator.
func New(opts Options) (*Simulator, error) {
	setDefault(&opts.TokenLifetime, DefaultTokenLifetime)
	setDefault(&opts.RefreshLifetime, DefaultRefreshLifetime)
	setDefault(&opts.TimestampWindow, pay1st.DefaultTimestampWindow)
	setDefault(&opts.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&opts.MaxLog, DefaultMaxLog)
	setDefault(&opts.WebhookTimeout, DefaultWebhookTimeout)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.WebhookTimeout}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{
		opts: opts, logger: logger,
		partners: map[string]*Partner{}, byCode: map[string]*Partner{},
		access: map[string]token{}, refresh: map[string]token{},
		payments: map[string]*payment{}, byPartRef: map[string]string{},
	}
	for _, p := range opts.Partners {
		if err := s.AddPartner(p); err != nil {
			return nil, err
		}
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

// AddPartner registers a partner; its API key and partner code must be new.
func (s *Simulator) AddPartner(p Partner) error {
	if p.PartnerCode == "" || p.PartnerID <= 0 || p.APIKey == "" || p.APISecret == "" || p.SigningKey == "" {
		return errors.New("sim: a partner needs partnerCode, partnerId > 0, apiKey, apiSecret and signingKey")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partners[p.APIKey] != nil || s.byCode[p.PartnerCode] != nil {
		return fmt.Errorf("sim: partner %q or its API key is already registered", p.PartnerCode)
	}
	s.partners[p.APIKey], s.byCode[p.PartnerCode] = &p, &p
	return nil
}

// SetPartner registers a partner, or replaces the one with its partner
// code: partnerhub's in-process simulator registers a tenant with the
// credentials the tenant has now, which may have changed since. Tokens
// issued to the replaced credentials keep working until they expire.
func (s *Simulator) SetPartner(p Partner) error {
	if p.PartnerCode == "" || p.PartnerID <= 0 || p.APIKey == "" || p.APISecret == "" || p.SigningKey == "" {
		return errors.New("sim: a partner needs partnerCode, partnerId > 0, apiKey, apiSecret and signingKey")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.partners[p.APIKey]; other != nil && other.PartnerCode != p.PartnerCode {
		return fmt.Errorf("sim: API key of partner %q is another partner's", p.PartnerCode)
	}
	if old := s.byCode[p.PartnerCode]; old != nil {
		delete(s.partners, old.APIKey)
	}
	s.partners[p.APIKey], s.byCode[p.PartnerCode] = &p, &p
	return nil
}

// SetWebhookURLs changes where a partner's webhooks go (partnerhub's URLs
// are often known only once it runs).
func (s *Simulator) SetWebhookURLs(partnerCode, webhookURL, summaryURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byCode[partnerCode]
	if p == nil {
		return fmt.Errorf("sim: unknown partner %q", partnerCode)
	}
	p.WebhookURL, p.SummaryURL = webhookURL, summaryURL
	return nil
}

// ServeHTTP serves the Gateway API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// RevokeTokens makes every access token issued so far unknown, as if
// Pay1st had expired them early: the next call gets 401. Refresh tokens
// stay valid.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// Server is a Simulator listening on a TCP address.
type Server struct {
	*Simulator
	URL string
	srv *http.Server
}

// Start runs a Simulator on a free port of 127.0.0.1. Close it when done.
func Start(opts Options) (*Server, error) { return Listen("127.0.0.1:0", opts) }

// Listen runs a Simulator on addr.
func Listen(addr string, opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen: %w", err)
	}
	return serve(s, ln, "http://"+ln.Addr().String()), nil
}

// Serve runs a Simulator on ln, which callers reach at baseURL: an
// in-memory listener, say, so nothing outside the process can reach it.
func Serve(ln net.Listener, baseURL string, opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	return serve(s, ln, baseURL), nil
}

func serve(s *Simulator, ln net.Listener, baseURL string) *Server {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Server{Simulator: s, URL: baseURL, srv: srv}
}

// Close stops the server at once.
func (s *Server) Close() error { return s.srv.Close() }

// Request is one request the simulator received.
type Request struct {
	Time        time.Time
	Method      string
	Path        string
	Query       string
	PartnerCode string // "" when the caller was not identified
	Reference   string // the payment concerned, when known
	Status      int    // the answer's status
	ErrorCode   string // the answer's errorCode, "" on success
	Body        []byte // the raw body (tokens' bodies hold no secret)
	Signature   string // X-SIGNATURE as received
	Timestamp   string // X-TIMESTAMP as received
}

// Webhook is one webhook the simulator sent.
type Webhook struct {
	Time        time.Time
	Kind        string // KindPaymentEvent or KindSummary
	PartnerCode string
	Reference   string
	Status      pay1st.Status
	UpdatedDate time.Time // of a payment event
	URL         string    // as sent, with any token query value redacted
	Body        []byte
	Signature   string
	Timestamp   string
	// Lost is true when the webhook was dropped on purpose (Lose): nothing
	// was sent.
	Lost           bool
	ResponseStatus int    // 0 when lost or no answer
	Err            string // the transport error, if any
}

// Kinds of Webhook.
const (
	KindPaymentEvent = "payment-event"
	KindSummary      = "summary"
)

// Requests returns a copy of the request log, oldest first.
func (s *Simulator) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Webhooks returns a copy of the webhook log, oldest first.
func (s *Simulator) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Webhook(nil), s.webhooks...)
}

func (s *Simulator) logRequest(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = appendBounded(s.requests, r, s.opts.MaxLog)
}

func (s *Simulator) logWebhook(h Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhooks = appendBounded(s.webhooks, h, s.opts.MaxLog)
}

// appendBounded drops the older half of a full log at once, so that under
// load each append costs O(1) amortised.
func appendBounded[T any](log []T, v T, limit int) []T {
	if len(log) >= limit {
		log = append(log[:0], log[len(log)-limit/2:]...)
	}
	return append(log, v)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Payment is a payment's state in the simulator.
type Payment struct {
	Reference        string
	PartnerReference string
	PartnerCode      string
	PartnerID        int64
	Amount           decimal.Decimal
	CurrencyCode     string
	CountryCode      string
	Products         []pay1st.Product
	Metadata         []pay1st.Metadata
	WebhookURL       string // this payment's, "" to use the partner's
	CallbackURLs     map[string]string
	Status           pay1st.Status
	CreatedDate      time.Time
	UpdatedDate      time.Time
	// History holds every status the payment went through, oldest first,
	// each as the event Pay1st would send.
	History []pay1st.PaymentEvent
	// Fulfilments holds every fulfilment report accepted for it.
	Fulfilments []pay1st.Fulfilment
}

// payment is the stored form; Payment copies are handed out.
type payment struct {
	Payment
	everPaid bool
}

// Payment returns a copy of a payment's state.
func (s *Simulator) Payment(reference string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[reference]
	if p == nil {
		return Payment{}, false
	}
	return p.copy(), true
}

// PaymentByPartnerReference finds a payment by the partner's reference.
func (s *Simulator) PaymentByPartnerReference(partnerCode, partnerReference string) (Payment, bool) {
	s.mu.Lock()
	ref, ok := s.byPartRef[partnerCode+"\x00"+partnerReference]
	s.mu.Unlock()
	if !ok {
		return Payment{}, false
	}
	return s.Payment(ref)
}

// Fulfilments returns the fulfilment reports accepted for a payment.
func (s *Simulator) Fulfilments(reference string) []pay1st.Fulfilment {
	p, _ := s.Payment(reference)
	return p.Fulfilments
}

func (p *payment) copy() Payment {
	c := p.Payment
	c.Products = append([]pay1st.Product(nil), p.Products...)
	c.Metadata = append([]pay1st.Metadata(nil), p.Metadata...)
	c.History = append([]pay1st.PaymentEvent(nil), p.History...)
	c.Fulfilments = append([]pay1st.Fulfilment(nil), p.Fulfilments...)
	c.CallbackURLs = make(map[string]string, len(p.CallbackURLs))
	for k, v := range p.CallbackURLs {
		c.CallbackURLs[k] = v
	}
	return c
}
