package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/tenant"
)

// PluginHandler serves plugin management: a tenant's uploaded plugin
// executables, each environment's write-only plugin settings, and
// activation, which starts a plugin through the host before switching the
// environment to it.
type PluginHandler struct {
	tenants *tenant.Service
	plugins *plugins.Registry
	host    PluginHost
	limits  PluginLimits
	logger  *slog.Logger
}

const pluginTag = "Plugins"

// Plugin is an uploaded plugin executable.
type Plugin struct {
	ID        int64     `json:"id" example:"7" doc:"The plugin's id: activate it with PUT .../environments/{env}/plugin."`
	Name      string    `json:"name" example:"wallet" doc:"The name given at upload."`
	Version   string    `json:"version" example:"1.2.0" doc:"The version given at upload; unique per name."`
	SHA256    string    `json:"sha256" example:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" doc:"Hex sha256 of the executable: how it is stored, and checked again before every start."`
	Size      int64     `json:"size" example:"18874368" doc:"Bytes."`
	OS        string    `json:"os" example:"linux" doc:"Target GOOS."`
	Arch      string    `json:"arch" example:"amd64" doc:"Target GOARCH."`
	ActiveIn  []string  `json:"activeIn" nullable:"false" example:"[\"staging\"]" doc:"Environments where this plugin is active now; [] when none. An active plugin cannot be deleted."`
	CreatedAt time.Time `json:"createdAt" doc:"When it was uploaded."`
}

func pluginOut(p plugins.Plugin) Plugin {
	active := p.ActiveIn
	if active == nil {
		active = []string{}
	}
	return Plugin{ID: p.ID, Name: p.Name, Version: p.Version, SHA256: p.SHA256, Size: p.Size, OS: p.OS, Arch: p.Arch,
		ActiveIn: active, CreatedAt: p.CreatedAt}
}

// UploadPluginInput is upload-plugin's request: the executable's bytes are
// the body, streamed (not decoded by Huma; see Resolve).
type UploadPluginInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Name        string `query:"name" maxLength:"64" example:"wallet" doc:"Required. The plugin's name: 1-64 of a-z 0-9 . _ -, starting with a letter or digit."`
	Version     string `query:"version" maxLength:"64" example:"1.2.0" doc:"Required. Its version: 1-64 of A-Z a-z 0-9 . + _ -, starting with a letter or digit. A name and version always mean the same bytes."`
	OS          string `query:"os" example:"linux" doc:"Required. The GOOS it is built for: linux, darwin, freebsd, netbsd, openbsd or windows. Activation refuses a plugin built for another OS than the server's."`
	Arch        string `query:"arch" example:"amd64" doc:"Required. The GOARCH it is built for: amd64, arm64, 386, arm, riscv64, ppc64le, s390x, loong64 or mips64le."`

	body          io.Reader
	contentType   string
	contentLength int64
	route         routeControl
}

// Resolve takes the request body as a stream: the executable is never read
// whole into memory by the API.
func (in *UploadPluginInput) Resolve(ctx huma.Context) []error {
	in.route = newRouteControl(ctx)
	in.body = ctx.BodyReader()
	in.contentType = ctx.Header("Content-Type")
	in.contentLength = -1
	if n, err := strconv.ParseInt(ctx.Header("Content-Length"), 10, 64); err == nil {
		in.contentLength = n
	}
	return nil
}

// UploadPluginOutput is upload-plugin's answer: 201 for a new plugin, 200
// when the same bytes were already uploaded under that name and version.
type UploadPluginOutput struct {
	Status   int
	Location string `header:"Location" doc:"The plugin's URL."`
	Body     Plugin
}

// PluginPath names one of a tenant's plugins.
type PluginPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	PluginID    int64  `path:"pluginId" minimum:"1" example:"7" doc:"The plugin's id, as returned by its upload."`
}

// ListPluginsInput pages through a tenant's plugins.
type ListPluginsInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	PageParams
}

// PluginList is a page of plugins.
type PluginList struct {
	Items      []Plugin `json:"items" doc:"Plugins in upload order."`
	NextCursor string   `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// PluginListOutput is list-plugins' answer.
type PluginListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body PluginList
}

// PluginOutput is one plugin.
type PluginOutput struct {
	Body Plugin
}

// PluginDescription is what a plugin's Describe reported when it was activated.
type PluginDescription struct {
	Name            string   `json:"name" example:"wallet" doc:"The name the plugin gives itself."`
	Version         string   `json:"version" example:"1.2.0" doc:"The version the plugin reports."`
	ProtocolVersion int      `json:"protocolVersion" example:"1" doc:"The plugin protocol it speaks; partnerhub refuses any but its own."`
	Capabilities    []string `json:"capabilities" nullable:"false" example:"[\"lookup_user\",\"fulfil\",\"reverse\"]" doc:"What it says it can do: lookup_user, fulfil, reverse."`
}

// ActivePlugin is an environment's active plugin.
type ActivePlugin struct {
	Environment      string             `json:"environment" enum:"staging,production" example:"staging" doc:"The environment."`
	Plugin           Plugin             `json:"plugin"`
	Description      *PluginDescription `json:"description,omitempty" doc:"What Describe said at the plugin's latest activation (in this environment if it was activated here; a plugin promoted to production shows its staging description). Absent if never recorded (set before plugin management existed)."`
	ActivatedAt      *time.Time         `json:"activatedAt,omitempty" doc:"When that activation happened."`
	PreviousPluginID int64              `json:"previousPluginId,omitempty" example:"6" doc:"The plugin that activation replaced: activate it again to roll back. Absent when there was none."`
	SettingNames     []string           `json:"settingNames" nullable:"false" example:"[\"endpoint\",\"hmac_key\"]" doc:"Names of the environment's plugin settings; their values are write-only and never shown."`
}

// ActivePluginOutput is get-active-plugin's and activate-plugin's answer.
type ActivePluginOutput struct {
	Body ActivePlugin
}

// ActivatePluginInput is activate-plugin's request.
type ActivatePluginInput struct {
	EnvironmentPath
	Body struct {
		PluginID int64 `json:"pluginId" minimum:"1" example:"7" doc:"One of the tenant's plugins. To roll back, pass the previous plugin's id."`
	}
	route routeControl
}

// Resolve keeps the request's ResponseController: activation sets its own
// write deadline.
func (in *ActivatePluginInput) Resolve(ctx huma.Context) []error {
	in.route = newRouteControl(ctx)
	return nil
}

// PluginSettingsBody documents set-plugin-settings' body. It is decoded by
// decodePluginSettings, not by Huma: Huma's validation errors quote the
// request, and this one carries secrets.
type PluginSettingsBody struct {
	Settings map[string]string `json:"settings" maxProperties:"32" writeOnly:"true" example:"{\"endpoint\":\"https://game.example.com/credit\",\"hmac_key\":\"…\"}" doc:"Every setting of the environment's plugin, replacing the previous set ({} clears it): at most 32, names 1-64 of A-Z a-z 0-9 _ . - starting with a letter or _, values UTF-8 of at most 4096 bytes, 32 KiB in all. Passed to the plugin's Configure at start; never to its environment."`
}

// SetPluginSettingsInput is set-plugin-settings' request.
type SetPluginSettingsInput struct {
	EnvironmentPath
	RawBody []byte `contentType:"application/json"`
}

// PluginSettings says which plugin settings an environment has, never their values.
type PluginSettings struct {
	Environment string     `json:"environment" enum:"staging,production" example:"staging" doc:"The environment."`
	Names       []string   `json:"names" nullable:"false" example:"[\"endpoint\",\"hmac_key\"]" doc:"The settings' names, sorted. Values are write-only."`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty" doc:"When they last changed; absent if never set."`
}

// PluginSettingsOutput is set-plugin-settings' answer.
type PluginSettingsOutput struct {
	Body PluginSettings
}

// maxPluginSettingsBody bounds set-plugin-settings' body: 32 KiB of names
// and values, JSON-escaped.
const maxPluginSettingsBody = 256 << 10

// Register adds the plugin operations to api.
func (h *PluginHandler) Register(api huma.API) {
	base := "/v1/tenants/{partnerCode}/plugins"
	envBase := "/v1/tenants/{partnerCode}/environments/{env}"
	read := []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity}
	write := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity}
	huma.Register(api, huma.Operation{
		OperationID: "upload-plugin", Method: http.MethodPost, Path: base, Tags: []string{pluginTag},
		Summary: "Upload a plugin executable",
		Description: "Streams a fulfilment plugin executable (the request body, `application/octet-stream`) with its name, " +
			"version and target os/arch as query parameters. It is stored content-addressed by sha256 in Postgres, so every " +
			"node runs the same bytes, and checked against that hash again before each start. At most the server's " +
			"`PARTNERHUB_PLUGIN_MAX_SIZE` bytes (64 MiB by default): larger gets 413 and nothing is stored. The body must " +
			"look like an executable for the given os (ELF, Mach-O, PE, or a #! script). Idempotent: the same bytes under " +
			"the same name and version answer 200 with the existing plugin; other bytes under them 409 (upload a new version). " +
			"Uploading does not activate: see activate-plugin. Each tenant keeps at most the server's " +
			"`PARTNERHUB_PLUGIN_MAX_PER_TENANT` plugins and `PARTNERHUB_PLUGIN_MAX_BYTES_PER_TENANT` bytes of them (100 and " +
			"1 GiB by default; a plugin counts with its size): past either, 409 says which, and deleting unused plugins makes " +
			"room. The body has its own deadline, not the server's read timeout: 15 s plus its size (Content-Length, else the " +
			"size limit) at `PARTNERHUB_PLUGIN_UPLOAD_MIN_RATE` (128 KiB/s by default), at most `PARTNERHUB_PLUGIN_UPLOAD_TIMEOUT` " +
			"(10 min); slower gets 408, a body cut off 400, and nothing is stored. The connection is closed after the answer. " +
			"504 means storing did not finish in time: list the plugins, or upload again (idempotent). " +
			"Admin tenant keys and operators only. Audited.",
		Security: bearer, DefaultStatus: http.StatusCreated,
		Errors: append(write, http.StatusBadRequest, http.StatusRequestTimeout, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusGatewayTimeout),
		RequestBody: &huma.RequestBody{
			Description: "The executable's bytes.",
			Required:    true,
			Content: map[string]*huma.MediaType{
				"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
			},
		},
	}, h.upload)
	huma.Register(api, huma.Operation{
		OperationID: "list-plugins", Method: http.MethodGet, Path: base, Tags: []string{pluginTag},
		Summary:     "List a tenant's plugins",
		Description: "Uploaded plugin executables in upload order, with where each is active.",
		Security:    bearer, Errors: read,
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-plugin", Method: http.MethodGet, Path: base + "/{pluginId}", Tags: []string{pluginTag},
		Summary:     "Get a plugin",
		Description: "One uploaded plugin executable's metadata and where it is active.",
		Security:    bearer, Errors: read,
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "delete-plugin", Method: http.MethodDelete, Path: base + "/{pluginId}", Tags: []string{pluginTag},
		Summary: "Delete a plugin",
		Description: "Removes an uploaded plugin (and its bytes, unless another plugin has the same). Refused with 409 while " +
			"it is active in an environment: activate another plugin there first. Fulfilments it made keep their records. " +
			"Admin tenant keys and operators only. Audited.",
		Security: bearer, DefaultStatus: http.StatusNoContent, Errors: append(write, http.StatusConflict),
	}, h.delete)
	huma.Register(api, huma.Operation{
		OperationID: "get-active-plugin", Method: http.MethodGet, Path: envBase + "/plugin", Tags: []string{pluginTag},
		Summary: "Get an environment's active plugin",
		Description: "The plugin that fulfils this environment's payments, what its Describe reported when it was activated, " +
			"the plugin it replaced (to roll back to) and the names of the environment's plugin settings. 404 when the " +
			"environment has no active plugin.",
		Security: bearer, Errors: read,
	}, h.getActive)
	huma.Register(api, huma.Operation{
		OperationID: "activate-plugin", Method: http.MethodPut, Path: envBase + "/plugin", Tags: []string{pluginTag},
		Summary: "Activate a plugin in an environment",
		Description: "Starts the plugin on this server with the environment's plugin settings — checksum, go-plugin handshake, " +
			"Describe (protocol version checked), Configure — and only once it answered switches the environment to it; " +
			"payments are fulfilled by it from then on, on every node. On any failure (built for another os/arch than the " +
			"server's, checksum, not a plugin, crashed, too slow, other protocol, settings refused) nothing changes, the " +
			"previous plugin stays active, and the 422 problem says why (`errors[0].message` is the reason: platform, " +
			"checksum, handshake, crashed, timeout, protocol, describe, settings or start). Activating the plugin that is " +
			"already active starts it again (a check). To roll back, activate the previous plugin (previousPluginId). " +
			"It has its own deadline, `PARTNERHUB_PLUGIN_ACTIVATE_TIMEOUT` (45 s by default), and answers within it even when " +
			"the server's write timeout is shorter: a plugin too slow to start is refused (reason timeout) early enough for the " +
			"switch. In the rare case the deadline passes during the switch itself, 504 says the outcome is unknown: read " +
			"get-active-plugin to see which plugin is active. The connection is closed after the answer. " +
			"Admin tenant keys and operators only. Audited.",
		Security: bearer, Errors: append(write, http.StatusGatewayTimeout),
	}, h.activate)
	huma.Register(api, huma.Operation{
		OperationID: "set-plugin-settings", Method: http.MethodPut, Path: envBase + "/plugin-settings", Tags: []string{pluginTag},
		Summary: "Set an environment's plugin settings",
		Description: "Replaces the settings passed to the environment's plugin in Configure (an endpoint, a signing key...). " +
			"Write-only: stored encrypted, never returned, logged or passed through the plugin's environment; the answer " +
			"lists their names. When a plugin is active, it is started with the new settings first and must accept them: " +
			"if it refuses (422, reason settings) the previous settings stay. Set them before activating a plugin that needs " +
			"them. Errors never quote the request. Admin tenant keys and operators only. Audited (names only).",
		Security: bearer, Errors: append(write, http.StatusBadRequest),
		MaxBodyBytes: maxPluginSettingsBody,
		// Huma's body errors quote the body, secrets included.
		SkipValidateBody: true,
	}, h.setSettings)
	// The body is read raw (see PluginSettingsBody); document its real shape.
	if p := api.OpenAPI().Paths[envBase+"/plugin-settings"]; p != nil && p.Put != nil && p.Put.RequestBody != nil {
		p.Put.RequestBody.Content["application/json"] = &huma.MediaType{
			Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[PluginSettingsBody](), true, ""),
		}
	}
}

// ready is the registry, or 503 when this server was built without plugin
// management (tests that need none).
func (h *PluginHandler) ready() error {
	if h.plugins == nil {
		return huma.Error503ServiceUnavailable("plugin management is not configured on this server")
	}
	return nil
}

func (h *PluginHandler) upload(ctx context.Context, in *UploadPluginInput) (*UploadPluginOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	if in.contentType != "" {
		if mt, _, err := mime.ParseMediaType(in.contentType); err != nil || mt != "application/octet-stream" {
			return nil, huma.Error415UnsupportedMediaType("send the executable as the raw body, Content-Type application/octet-stream")
		}
	}
	if in.contentLength > h.plugins.MaxSize() {
		// Refused before reading a byte.
		return nil, problem(ctx, h.logger, &plugins.TooLargeError{Limit: h.plugins.MaxSize()})
	}
	body := in.body
	if body == nil {
		body = http.NoBody
	}
	// This route's own deadlines: the body may take its size at the minimum
	// rate (the size limit's when chunked), then checking and storing it
	// has uploadStoreTime, and the answer is written in any case.
	size := in.contentLength
	if size < 0 {
		size = h.plugins.MaxSize()
	}
	now := time.Now()
	read := now.Add(h.limits.uploadReadTime(size))
	in.route.extend(ctx, h.logger, read, read.Add(uploadStoreTime+answerMargin))
	ctx, cancel := context.WithDeadline(ctx, read.Add(uploadStoreTime))
	defer cancel()
	up, err := h.plugins.Upload(ctx, plugins.UploadParams{TenantID: t.ID, Name: in.Name, Version: in.Version, OS: in.OS, Arch: in.Arch}, body)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &UploadPluginOutput{Status: http.StatusOK, Body: pluginOut(up.Plugin),
		Location: fmt.Sprintf("/v1/tenants/%s/plugins/%d", t.PartnerCode, up.ID)}
	if up.Created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

func (h *PluginHandler) list(ctx context.Context, in *ListPluginsInput) (*PluginListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	after, err := tenant.DecodeCursor(in.Cursor)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	limit := tenant.PageLimit(in.Limit)
	page, err := h.plugins.List(ctx, t.ID, after, limit)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &PluginListOutput{Body: PluginList{Items: make([]Plugin, 0, len(page.Plugins))}}
	for _, p := range page.Plugins {
		out.Body.Items = append(out.Body.Items, pluginOut(p))
	}
	if page.Next != 0 {
		out.Body.NextCursor = tenant.EncodeCursor(page.Next)
	}
	out.Link = nextLink("/v1/tenants/"+t.PartnerCode+"/plugins", nil, limit, out.Body.NextCursor)
	return out, nil
}

func (h *PluginHandler) get(ctx context.Context, in *PluginPath) (*PluginOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	p, err := h.plugins.Get(ctx, t.ID, in.PluginID)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &PluginOutput{Body: pluginOut(p)}, nil
}

func (h *PluginHandler) delete(ctx context.Context, in *PluginPath) (*struct{}, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	if err := h.plugins.Delete(ctx, t.ID, in.PluginID); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return nil, nil
}

func (h *PluginHandler) getActive(ctx context.Context, in *EnvironmentPath) (*ActivePluginOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	e, err := h.tenants.Environment(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return h.activeOut(ctx, t, e.Name, e.ActivePluginID)
}

func (h *PluginHandler) activeOut(ctx context.Context, t tenant.Tenant, env string, pluginID int64) (*ActivePluginOutput, error) {
	a, err := h.plugins.Active(ctx, t.ID, env, pluginID)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	s, err := h.plugins.Settings(ctx, t.ID, env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := ActivePlugin{Environment: env, Plugin: pluginOut(a.Plugin), SettingNames: s.Names}
	if act := a.Activation; act != nil {
		caps := act.Description.Capabilities
		if caps == nil {
			caps = []string{}
		}
		out.Description = &PluginDescription{Name: act.Description.Name, Version: act.Description.Version,
			ProtocolVersion: act.Description.ProtocolVersion, Capabilities: caps}
		out.ActivatedAt = &act.ActivatedAt
		out.PreviousPluginID = act.PreviousPluginID
	}
	return &ActivePluginOutput{Body: out}, nil
}

func (h *PluginHandler) activate(ctx context.Context, in *ActivatePluginInput) (*ActivePluginOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	if h.host == nil {
		return nil, huma.Error503ServiceUnavailable("this server runs no plugin host")
	}
	e, err := h.tenants.Environment(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	// The activation's own deadline, with its answer written even past the
	// server's write timeout: a client cut off would not know whether the
	// switch happened. The plugin's start and Describe end early enough to
	// leave time for the switch.
	budget := h.limits.withDefaults().ActivateTimeout
	deadline := time.Now().Add(budget)
	in.route.extend(ctx, h.logger, time.Time{}, deadline.Add(answerMargin))
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	starter := boundedStarter{h: h.host, deadline: deadline.Add(-switchReserve(budget))}
	_, err = h.plugins.Activate(actx, starter, plugins.ActivateParams{
		TenantID: t.ID, PartnerCode: t.PartnerCode, Env: e.Name, PluginID: in.Body.PluginID,
		PreviousPluginID: e.ActivePluginID,
		Switch: func(ctx context.Context, tx pgx.Tx) error {
			return h.tenants.SetActivePluginTx(ctx, tx, t, e.Name, in.Body.PluginID)
		},
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return h.activeOut(ctx, t, e.Name, in.Body.PluginID)
}

func (h *PluginHandler) setSettings(ctx context.Context, in *SetPluginSettingsInput) (*PluginSettingsOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.ready(); err != nil {
		return nil, err
	}
	settings, err := decodePluginSettings(in.RawBody)
	if err != nil {
		return nil, err
	}
	e, err := h.tenants.Environment(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	var starter plugins.Starter
	if h.host != nil {
		starter = h.host
	}
	s, err := h.plugins.SetSettings(ctx, starter, plugins.SettingsParams{
		TenantID: t.ID, PartnerCode: t.PartnerCode, Env: e.Name, Settings: settings, ActivePluginID: e.ActivePluginID,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := PluginSettings{Environment: e.Name, Names: s.Names}
	if out.Names == nil {
		out.Names = []string{}
	}
	if !s.UpdatedAt.IsZero() {
		out.UpdatedAt = &s.UpdatedAt
	}
	return &PluginSettingsOutput{Body: out}, nil
}

// decodePluginSettings reads set-plugin-settings' body strictly (unknown
// properties refused, so a typo does not pass for success) and never quotes
// it in an error: it carries secrets.
func decodePluginSettings(raw []byte) (map[string]string, error) {
	var b PluginSettingsBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		// Type and syntax errors may quote the body: say only what is expected.
		return nil, huma.Error400BadRequest(`request body must be {"settings": {"<name>": "<string value>", ...}}`)
	}
	if _, next := dec.Token(); next != io.EOF {
		return nil, huma.Error400BadRequest("request body must be one JSON object")
	}
	if b.Settings == nil {
		return nil, huma.Error422UnprocessableEntity("invalid settings", &huma.ErrorDetail{
			Location: "body.settings", Message: "is required ({} clears every setting)"})
	}
	return b.Settings, nil
}
