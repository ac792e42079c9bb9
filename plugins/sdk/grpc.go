package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
)

// GRPCPlugin connects a [Plugin] to go-plugin's gRPC transport. The plugin
// side serves Impl; the host side gets a client that implements [Plugin].
type GRPCPlugin struct {
	// net/rpc is refused: protocol v1 is gRPC only.
	plugin.NetRPCUnsupportedPlugin
	// Impl is served by the plugin process; nil on the host.
	Impl Plugin
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers Impl on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: GRPCPlugin.Impl is nil")
	}
	pb.RegisterFulfilmentPluginServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a [Plugin] that calls the plugin process over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{rpc: pb.NewFulfilmentPluginClient(conn)}, nil
}

// grpcServer adapts a Plugin to the generated gRPC service.
type grpcServer struct {
	pb.UnimplementedFulfilmentPluginServer
	impl Plugin
}

func (s *grpcServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err, codes.Unknown)
	}
	return descriptionToWire(d), nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	// Protocol v1: any Configure failure is reported as invalid settings.
	if err := s.impl.Configure(ctx, configureFromWire(req)); err != nil {
		return nil, toStatus(err, codes.InvalidArgument)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) LookupUser(ctx context.Context, req *pb.LookupUserRequest) (*pb.LookupUserResponse, error) {
	in, err := lookupRequestFromWire(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	out, err := s.impl.LookupUser(ctx, in)
	if err != nil {
		return nil, toStatus(err, codes.Unknown)
	}
	return lookupResponseToWire(out), nil
}

func (s *grpcServer) Fulfil(ctx context.Context, req *pb.FulfilRequest) (*pb.Result, error) {
	in, err := fulfilFromWire(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := s.impl.Fulfil(ctx, in)
	if err != nil {
		return nil, toStatus(err, codes.Unknown)
	}
	return resultReply(res)
}

func (s *grpcServer) Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.Result, error) {
	in, err := reverseFromWire(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := s.impl.Reverse(ctx, in)
	if err != nil {
		return nil, toStatus(err, codes.Unknown)
	}
	return resultReply(res)
}

// resultReply refuses to send an outcome the host could not act on.
func resultReply(r Result) (*pb.Result, error) {
	m, err := resultToWire(r)
	if err != nil {
		return nil, status.Error(codes.Internal, "plugin returned "+err.Error())
	}
	return m, nil
}

// toStatus turns a plugin error into a gRPC status, keeping one the plugin
// built itself and the meaning of context errors.
func toStatus(err error, fallback codes.Code) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(fallback, err.Error())
}

// grpcClient is the host's view of a plugin: a Plugin over gRPC.
type grpcClient struct {
	rpc pb.FulfilmentPluginClient
}

func (c *grpcClient) Describe(ctx context.Context) (Description, error) {
	resp, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, callError(ctx, "describe", err)
	}
	return descriptionFromWire(resp), nil
}

func (c *grpcClient) Configure(ctx context.Context, req ConfigureRequest) error {
	if _, err := c.rpc.Configure(ctx, configureToWire(req)); err != nil {
		if status.Code(err) == codes.InvalidArgument {
			return fmt.Errorf("%w: %s", ErrInvalidSettings, status.Convert(err).Message())
		}
		return callError(ctx, "configure", err)
	}
	return nil
}

func (c *grpcClient) LookupUser(ctx context.Context, req LookupUserRequest) (LookupUserResponse, error) {
	resp, err := c.rpc.LookupUser(ctx, lookupRequestToWire(req))
	if err != nil {
		return LookupUserResponse{}, callError(ctx, "lookup user", err)
	}
	out, err := lookupResponseFromWire(resp)
	if err != nil {
		return LookupUserResponse{}, fmt.Errorf("sdk: lookup user: %w", err)
	}
	return out, nil
}

func (c *grpcClient) Fulfil(ctx context.Context, req FulfilRequest) (Result, error) {
	resp, err := c.rpc.Fulfil(ctx, fulfilToWire(req))
	if err != nil {
		return Result{}, callError(ctx, "fulfil", err)
	}
	res, err := resultFromWire(resp)
	if err != nil {
		return Result{}, fmt.Errorf("sdk: fulfil: %w", err)
	}
	return res, nil
}

func (c *grpcClient) Reverse(ctx context.Context, req ReverseRequest) (Result, error) {
	resp, err := c.rpc.Reverse(ctx, reverseToWire(req))
	if err != nil {
		return Result{}, callError(ctx, "reverse", err)
	}
	res, err := resultFromWire(resp)
	if err != nil {
		return Result{}, fmt.Errorf("sdk: reverse: %w", err)
	}
	return res, nil
}

// callError wraps a failed call. When a deadline passed or the call was
// cancelled, the matching context error is wrapped too, so callers can use
// errors.Is(err, context.DeadlineExceeded). gRPC's own deadline timer may
// fire a moment before ctx's, hence the status code check.
func callError(ctx context.Context, op string, err error) error {
	ctxErr := ctx.Err()
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		ctxErr = context.DeadlineExceeded
	case codes.Canceled:
		if ctxErr == nil {
			ctxErr = context.Canceled
		}
	}
	if ctxErr != nil {
		return fmt.Errorf("sdk: %s: %w: %w", op, ctxErr, err)
	}
	return fmt.Errorf("sdk: %s: %w", op, err)
}
