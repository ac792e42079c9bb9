package sdk

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "0", want: "0"},
		{in: "1000.50", want: "1000.5"},
		{in: "-1.25", want: "-1.25"},
		{in: "0.000000000000000001", want: "0.000000000000000001"},
		{in: "123456789012345678901234567890.123456789", want: "123456789012345678901234567890.123456789"},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1e5", wantErr: true},
		{in: "1e99999999", wantErr: true},
		{in: "1.", wantErr: true},
		{in: ".5", wantErr: true},
		{in: "+1", wantErr: true},
		{in: " 1", wantErr: true},
		{in: "1,5", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: strings.Repeat("1", 65), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseDecimal("amount", tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidMessage)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.String())
		})
	}
}

func TestParseNullDecimal(t *testing.T) {
	t.Parallel()
	got, err := parseNullDecimal("amount", "")
	require.NoError(t, err)
	require.False(t, got.Valid)

	got, err = parseNullDecimal("amount", "2.50")
	require.NoError(t, err)
	require.True(t, got.Valid)
	require.True(t, got.Decimal.Equal(decimal.RequireFromString("2.5")))

	_, err = parseNullDecimal("amount", "two")
	require.ErrorIs(t, err, ErrInvalidMessage)
}

func TestOutcomeWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		outcome Outcome
		wire    pb.Outcome
		valid   bool
	}{
		{OutcomeFulfilled, pb.Outcome_OUTCOME_FULFILLED, true},
		{OutcomeRejected, pb.Outcome_OUTCOME_REJECTED, true},
		{OutcomeRetry, pb.Outcome_OUTCOME_RETRY, true},
		{"", pb.Outcome_OUTCOME_UNSPECIFIED, false},
		{"FULFILLED", pb.Outcome_OUTCOME_UNSPECIFIED, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.valid, tt.outcome.Valid())
			wire, err := outcomeToWire(tt.outcome)
			if !tt.valid {
				require.ErrorIs(t, err, ErrInvalidMessage)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wire, wire)
			back, err := outcomeFromWire(wire)
			require.NoError(t, err)
			require.Equal(t, tt.outcome, back)
		})
	}

	_, err := outcomeFromWire(pb.Outcome_OUTCOME_UNSPECIFIED)
	require.ErrorIs(t, err, ErrInvalidMessage)
	_, err = outcomeFromWire(pb.Outcome(42))
	require.ErrorIs(t, err, ErrInvalidMessage)
}

func TestFromWireRejectsBadMoney(t *testing.T) {
	t.Parallel()
	good := func() *pb.FulfilRequest {
		return &pb.FulfilRequest{
			IdempotencyKey: "k",
			Payment:        &pb.Payment{Amount: "10.00", CurrencyCode: "NGN"},
			Items:          []*pb.Item{{Sku: "gold", DigitalAmount: "100"}},
		}
	}
	tests := []struct {
		name   string
		mutate func(*pb.FulfilRequest)
	}{
		{"payment missing", func(m *pb.FulfilRequest) { m.Payment = nil }},
		{"payment amount empty", func(m *pb.FulfilRequest) { m.Payment.Amount = "" }},
		{"payment amount float syntax", func(m *pb.FulfilRequest) { m.Payment.Amount = "1e3" }},
		{"item amount garbage", func(m *pb.FulfilRequest) { m.Items[0].DigitalAmount = "lots" }},
	}
	_, err := fulfilFromWire(good())
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := good()
			tt.mutate(m)
			_, err := fulfilFromWire(m)
			require.ErrorIs(t, err, ErrInvalidMessage)
		})
	}
}
