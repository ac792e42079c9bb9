package main

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Setting names, as the tenant sets them with
// PUT .../environments/{env}/plugin-settings.
const (
	settingURL               = "url"
	settingSecret            = "secret"
	settingTimeout           = "timeout"
	settingRetries           = "retries"
	settingAllowInsecureHTTP = "allow_insecure_http"
)

// Limits of the settings. The host's own per-call deadline
// (PARTNERHUB_PLUGIN_CALL_TIMEOUT) bounds every call as well.
const (
	defaultTimeout  = 10 * time.Second
	maxTimeout      = 2 * time.Minute
	defaultRetries  = 2
	maxRetries      = 5
	minSecretLength = 16
)

// errSettings wraps every reason Configure refuses its settings.
var errSettings = errors.New("webhookforward: invalid settings")

// config is the parsed, validated settings.
type config struct {
	url     *url.URL
	secret  []byte
	timeout time.Duration // one HTTP request, response included
	retries int           // extra in-process attempts after a retryable answer
}

// parseSettings validates the tenant's settings. Unknown names are refused
// so that a typo ("secrett") fails at activation, not at the first payment.
func parseSettings(in map[string]string) (config, error) {
	known := map[string]bool{settingURL: true, settingSecret: true, settingTimeout: true, settingRetries: true, settingAllowInsecureHTTP: true}
	var unknown []string
	for k := range in {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return config{}, fmt.Errorf("%w: unknown setting(s) %s", errSettings, strings.Join(unknown, ", "))
	}

	insecure := false
	if v, ok := in[settingAllowInsecureHTTP]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("%w: %s must be true or false", errSettings, settingAllowInsecureHTTP)
		}
		insecure = b
	}

	raw := in[settingURL]
	if raw == "" {
		return config{}, fmt.Errorf("%w: %s is required", errSettings, settingURL)
	}
	u, err := url.Parse(raw)
	// The URL is not quoted back: it may carry a token in its query.
	if err != nil || u.Host == "" || u.Opaque != "" {
		return config{}, fmt.Errorf("%w: %s must be an absolute http(s) URL", errSettings, settingURL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && insecure:
	case u.Scheme == "http":
		return config{}, fmt.Errorf("%w: %s must use https (set %s=true only for tests)", errSettings, settingURL, settingAllowInsecureHTTP)
	default:
		return config{}, fmt.Errorf("%w: %s must be an absolute http(s) URL", errSettings, settingURL)
	}
	if u.User != nil {
		return config{}, fmt.Errorf("%w: %s must not carry credentials; the signature authenticates requests", errSettings, settingURL)
	}
	u.Fragment = ""

	secret := in[settingSecret]
	if len(secret) < minSecretLength {
		return config{}, fmt.Errorf("%w: %s is required, at least %d characters", errSettings, settingSecret, minSecretLength)
	}

	c := config{url: u, secret: []byte(secret), timeout: defaultTimeout, retries: defaultRetries}
	if v, ok := in[settingTimeout]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxTimeout {
			return config{}, fmt.Errorf("%w: %s must be a duration such as 5s, above 0 and at most %s", errSettings, settingTimeout, maxTimeout)
		}
		c.timeout = d
	}
	if v, ok := in[settingRetries]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxRetries {
			return config{}, fmt.Errorf("%w: %s must be a whole number from 0 to %d", errSettings, settingRetries, maxRetries)
		}
		c.retries = n
	}
	return c, nil
}
