package pay1st

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// tokenResponse is the answer of both token endpoints.
type tokenResponse struct {
	Role         string `json:"role"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// AccessToken returns the partner's current access token, fetching or
// refreshing it if needed. Callers need it for checkout links (CheckoutURL);
// it is a secret: never log it.
func (c *Client) AccessToken(ctx context.Context, creds Credentials) (string, error) {
	return c.tokens.get(ctx, c, creds)
}

// requestToken: POST /api/pay1st/auth/token with HTTP Basic API key and
// secret.
func (c *Client) requestToken(ctx context.Context, creds Credentials) (tokenResponse, error) {
	if creds.APIKey == "" || creds.APISecret == "" {
		return tokenResponse{}, fmt.Errorf("pay1st: access token: %w: API key and secret are required", ErrUnauthorized)
	}
	body, _ := json.Marshal(map[string]string{"role": RoleAPIUser})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.APIKey+":"+creds.APISecret))
	resp, err := c.do(ctx, creds, call{
		op: "access token", method: http.MethodPost, path: PathToken,
		contentType: ContentTypeAuth, body: body,
		auth: func(r *http.Request) { r.Header.Set("Authorization", basic) },
	})
	if err != nil {
		return tokenResponse{}, err
	}
	return parseToken("access token", resp)
}

// refreshToken: POST /api/pay1st/auth/refresh with the refresh token.
func (c *Client) refreshToken(ctx context.Context, creds Credentials, refresh string) (tokenResponse, error) {
	body, _ := json.Marshal(map[string]string{"role": RoleAPIUser, "refreshToken": refresh})
	resp, err := c.do(ctx, creds, call{
		op: "refresh token", method: http.MethodPost, path: PathRefresh,
		contentType: ContentTypeAuth, body: body,
		auth:    func(*http.Request) {},
		secrets: []string{refresh},
	})
	if err != nil {
		return tokenResponse{}, err
	}
	return parseToken("refresh token", resp)
}

func parseToken(op string, body []byte) (tokenResponse, error) {
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil {
		return tokenResponse{}, fmt.Errorf("pay1st: %s: %w: not JSON", op, ErrBadResponse)
	}
	if t.AccessToken == "" {
		return tokenResponse{}, fmt.Errorf("pay1st: %s: %w: no accessToken", op, ErrBadResponse)
	}
	return t, nil
}
