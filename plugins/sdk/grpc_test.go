package sdk

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
)

// recorder is a Plugin that records what it receives and answers what it is
// told to, so both directions of every conversion can be checked.
type recorder struct {
	mu        sync.Mutex
	configure ConfigureRequest
	lookup    LookupUserRequest
	fulfil    FulfilRequest
	reverse   ReverseRequest
	calls     int

	desc       Description
	configErr  error
	lookupResp LookupUserResponse
	result     Result
	err        error
}

func (r *recorder) Describe(context.Context) (Description, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.desc, r.err
}

func (r *recorder) Configure(_ context.Context, req ConfigureRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.configure = req
	return r.configErr
}

func (r *recorder) LookupUser(_ context.Context, req LookupUserRequest) (LookupUserResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.lookup = req
	return r.lookupResp, r.err
}

func (r *recorder) Fulfil(_ context.Context, req FulfilRequest) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.fulfil = req
	return r.result, r.err
}

func (r *recorder) Reverse(_ context.Context, req ReverseRequest) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.reverse = req
	return r.result, r.err
}

func (r *recorder) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func nullDec(s string) decimal.NullDecimal {
	return decimal.NullDecimal{Decimal: dec(s), Valid: true}
}

func samplePayment() Payment {
	return Payment{
		Reference:        "PAY-1",
		PartnerReference: "ORDER-9",
		Status:           "SUCCESS",
		Amount:           dec("123456789012345678901234567890.000000000000000001"),
		CurrencyCode:     "NGN",
		CountryCode:      "NG",
		CustomerID:       42,
		PaymentMethod:    "CARD",
	}
}

func sampleItems() []Item {
	return []Item{
		{SKU: "gold-100", Name: "100 gold", Quantity: 2, DigitalCurrencyCode: "GOLD", DigitalCurrencyName: "Gold", DigitalAmount: nullDec("100.10")},
		{SKU: "skin", Name: "Skin", Quantity: 1},
	}
}

// requireDecimalsEqual compares by value: "1000.50" and "1000.5" are the
// same amount even though their scales differ after the round trip.
func requireDecimalsEqual(t *testing.T, want, got decimal.Decimal) {
	t.Helper()
	require.Truef(t, want.Equal(got), "want %s, got %s", want, got)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	impl := &recorder{
		desc: Description{Name: "rec", Version: "1.2.3", ProtocolVersion: ProtocolVersion,
			Capabilities: []Capability{CapabilityLookupUser, CapabilityFulfil, CapabilityReverse}},
		lookupResp: LookupUserResponse{Found: true, UserID: "u-1", ExternalReference: "ext", Amount: nullDec("1000.50"), CurrencyCode: "NGN"},
		result:     Result{Outcome: OutcomeFulfilled, Reference: "game-ref-1"},
	}
	p := TestClient(t, impl)
	ctx := t.Context()

	desc, err := p.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, impl.desc, desc)

	cfg := ConfigureRequest{Settings: map[string]string{"data_dir": "/x", "token": "s3cret"}, PartnerCode: "acme", Environment: "staging"}
	require.NoError(t, p.Configure(ctx, cfg))
	require.Equal(t, cfg, impl.configure)

	lookupReq := LookupUserRequest{PlayerID: "p1", ProductBundleID: 7, SKU: "gold", ExternalReference: "ext",
		Amount: nullDec("0.01"), CurrencyCode: "NGN", CountryCode: "NG", Quantity: 3}
	lookupResp, err := p.LookupUser(ctx, lookupReq)
	require.NoError(t, err)
	require.Equal(t, lookupReq.PlayerID, impl.lookup.PlayerID)
	require.Equal(t, lookupReq.ProductBundleID, impl.lookup.ProductBundleID)
	require.Equal(t, lookupReq.Quantity, impl.lookup.Quantity)
	require.True(t, impl.lookup.Amount.Valid)
	requireDecimalsEqual(t, lookupReq.Amount.Decimal, impl.lookup.Amount.Decimal)
	require.True(t, lookupResp.Found)
	require.Equal(t, "u-1", lookupResp.UserID)
	require.Equal(t, "1000.5", lookupResp.Amount.Decimal.String())

	// An absent amount stays absent: it must not turn into zero.
	lookupReq.Amount = decimal.NullDecimal{}
	impl.lookupResp.Amount = decimal.NullDecimal{}
	lookupResp, err = p.LookupUser(ctx, lookupReq)
	require.NoError(t, err)
	require.False(t, impl.lookup.Amount.Valid)
	require.False(t, lookupResp.Amount.Valid)

	fulfilReq := FulfilRequest{IdempotencyKey: "fulfil:PAY-1", PartnerCode: "acme", Environment: "production",
		Payment: samplePayment(), PlayerID: "p1", Items: sampleItems()}
	res, err := p.Fulfil(ctx, fulfilReq)
	require.NoError(t, err)
	require.Equal(t, impl.result, res)
	got := impl.fulfil
	requireDecimalsEqual(t, fulfilReq.Payment.Amount, got.Payment.Amount)
	requireDecimalsEqual(t, fulfilReq.Items[0].DigitalAmount.Decimal, got.Items[0].DigitalAmount.Decimal)
	require.False(t, got.Items[1].DigitalAmount.Valid)
	got.Payment.Amount, fulfilReq.Payment.Amount = decimal.Zero, decimal.Zero
	got.Items[0].DigitalAmount, fulfilReq.Items[0].DigitalAmount = decimal.NullDecimal{}, decimal.NullDecimal{}
	require.Equal(t, fulfilReq, got)

	impl.result = Result{Outcome: OutcomeRejected, Reason: "nothing to reverse"}
	reverseReq := ReverseRequest{IdempotencyKey: "reverse:PAY-1", PartnerCode: "acme", Environment: "production",
		Payment: samplePayment(), PlayerID: "p1", Items: sampleItems(), Reason: ReasonChargeback}
	res, err = p.Reverse(ctx, reverseReq)
	require.NoError(t, err)
	require.Equal(t, impl.result, res)
	require.Equal(t, ReasonChargeback, impl.reverse.Reason)
	require.Equal(t, "reverse:PAY-1", impl.reverse.IdempotencyKey)
	requireDecimalsEqual(t, reverseReq.Payment.Amount, impl.reverse.Payment.Amount)
}

func TestRetryOutcomeRoundTrip(t *testing.T) {
	t.Parallel()
	p := TestClient(t, &recorder{result: Retry("game backend down")})
	res, err := p.Fulfil(t.Context(), FulfilRequest{IdempotencyKey: "k", Payment: samplePayment()})
	require.NoError(t, err)
	require.Equal(t, Result{Outcome: OutcomeRetry, Reason: "game backend down"}, res)
}

func TestPluginErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("configure error is invalid settings", func(t *testing.T) {
		t.Parallel()
		p := TestClient(t, &recorder{configErr: errors.New("data_dir: not a directory")})
		err := p.Configure(ctx, ConfigureRequest{})
		require.ErrorIs(t, err, ErrInvalidSettings)
		require.ErrorContains(t, err, "data_dir: not a directory")
	})

	t.Run("plain error keeps its message", func(t *testing.T) {
		t.Parallel()
		p := TestClient(t, &recorder{err: errors.New("boom")})
		_, err := p.Fulfil(ctx, FulfilRequest{Payment: samplePayment()})
		require.Error(t, err)
		require.Equal(t, codes.Unknown, status.Code(err))
		require.ErrorContains(t, err, "boom")
	})

	t.Run("status error keeps its code", func(t *testing.T) {
		t.Parallel()
		p := TestClient(t, &recorder{err: status.Error(codes.Unavailable, "game down")})
		_, err := p.Reverse(ctx, ReverseRequest{Payment: samplePayment()})
		require.Equal(t, codes.Unavailable, status.Code(err))
	})

	t.Run("invalid outcome never reaches the host", func(t *testing.T) {
		t.Parallel()
		p := TestClient(t, &recorder{result: Result{Outcome: "done"}})
		_, err := p.Fulfil(ctx, FulfilRequest{Payment: samplePayment()})
		require.Equal(t, codes.Internal, status.Code(err))
	})
}

// slowPlugin blocks until the call's context ends.
type slowPlugin struct{ Unimplemented }

func (slowPlugin) Fulfil(ctx context.Context, _ FulfilRequest) (Result, error) {
	<-ctx.Done()
	return Result{}, ctx.Err()
}

func TestDeadlineIsVisibleToCaller(t *testing.T) {
	t.Parallel()
	p := TestClient(t, slowPlugin{})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Fulfil(ctx, FulfilRequest{Payment: samplePayment()})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// rawServer answers with whatever messages a test sets, valid or not, to
// check that the client adapter refuses malformed replies.
type rawServer struct {
	pb.UnimplementedFulfilmentPluginServer
	lookup *pb.LookupUserResponse
	result *pb.Result
}

func (s *rawServer) LookupUser(context.Context, *pb.LookupUserRequest) (*pb.LookupUserResponse, error) {
	return s.lookup, nil
}

func (s *rawServer) Fulfil(context.Context, *pb.FulfilRequest) (*pb.Result, error) {
	return s.result, nil
}

func (s *rawServer) Reverse(context.Context, *pb.ReverseRequest) (*pb.Result, error) {
	return s.result, nil
}

// rawConn serves register on a real gRPC connection and returns the client side.
func rawConn(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	conn, server := plugin.TestGRPCConn(t, register)
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	return conn
}

func TestClientRefusesMalformedReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server *rawServer
		call   func(context.Context, Plugin) error
	}{
		{
			name:   "lookup amount not a decimal",
			server: &rawServer{lookup: &pb.LookupUserResponse{Found: true, Amount: "12,50"}},
			call: func(ctx context.Context, p Plugin) error {
				_, err := p.LookupUser(ctx, LookupUserRequest{})
				return err
			},
		},
		{
			name:   "fulfil outcome unspecified",
			server: &rawServer{result: &pb.Result{Reference: "x"}},
			call: func(ctx context.Context, p Plugin) error {
				_, err := p.Fulfil(ctx, FulfilRequest{Payment: samplePayment()})
				return err
			},
		},
		{
			name:   "reverse outcome unknown",
			server: &rawServer{result: &pb.Result{Outcome: pb.Outcome(9)}},
			call: func(ctx context.Context, p Plugin) error {
				_, err := p.Reverse(ctx, ReverseRequest{Payment: samplePayment()})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := rawConn(t, func(s *grpc.Server) { pb.RegisterFulfilmentPluginServer(s, tt.server) })
			raw, err := (&GRPCPlugin{}).GRPCClient(t.Context(), nil, conn)
			require.NoError(t, err)
			err = tt.call(t.Context(), raw.(Plugin))
			require.ErrorIs(t, err, ErrInvalidMessage)
		})
	}
}

func TestServerRefusesMalformedRequests(t *testing.T) {
	t.Parallel()
	impl := &recorder{result: Fulfilled("x")}
	conn := rawConn(t, func(s *grpc.Server) {
		require.NoError(t, (&GRPCPlugin{Impl: impl}).GRPCServer(nil, s))
	})
	rpc := pb.NewFulfilmentPluginClient(conn)
	ctx := t.Context()

	_, err := rpc.Fulfil(ctx, &pb.FulfilRequest{IdempotencyKey: "k", Payment: &pb.Payment{Amount: "0.1e1"}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, err = rpc.Fulfil(ctx, &pb.FulfilRequest{IdempotencyKey: "k"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, err = rpc.Reverse(ctx, &pb.ReverseRequest{Payment: &pb.Payment{Amount: "1"}, Items: []*pb.Item{{DigitalAmount: "many"}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, err = rpc.LookupUser(ctx, &pb.LookupUserRequest{Amount: "NaN"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Zero(t, impl.callCount(), "the plugin must not see a malformed request")

	res, err := rpc.Fulfil(ctx, &pb.FulfilRequest{IdempotencyKey: "k", Payment: &pb.Payment{Amount: "1.00"}})
	require.NoError(t, err)
	require.Equal(t, pb.Outcome_OUTCOME_FULFILLED, res.GetOutcome())
	require.Equal(t, 1, impl.callCount())
}

func TestGRPCServerNeedsImpl(t *testing.T) {
	t.Parallel()
	err := (&GRPCPlugin{}).GRPCServer(nil, grpc.NewServer())
	require.Error(t, err)
}

func TestUnimplementedDefaults(t *testing.T) {
	t.Parallel()
	p := TestClient(t, Unimplemented{})
	ctx := t.Context()

	desc, err := p.Describe(ctx)
	require.NoError(t, err)
	require.EqualValues(t, ProtocolVersion, desc.ProtocolVersion)
	require.NoError(t, p.Configure(ctx, ConfigureRequest{Settings: map[string]string{"a": "b"}}))

	lookup, err := p.LookupUser(ctx, LookupUserRequest{PlayerID: "p1", Amount: nullDec("5"), CurrencyCode: "KES"})
	require.NoError(t, err)
	require.True(t, lookup.Found)
	require.Equal(t, "p1", lookup.UserID)
	require.Equal(t, "KES", lookup.CurrencyCode)

	res, err := p.Fulfil(ctx, FulfilRequest{Payment: samplePayment()})
	require.NoError(t, err)
	require.Equal(t, OutcomeRejected, res.Outcome)
	res, err = p.Reverse(ctx, ReverseRequest{Payment: samplePayment()})
	require.NoError(t, err)
	require.Equal(t, Rejected("reverse not supported"), res)
}
