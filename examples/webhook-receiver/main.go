// Webhook-receiver receives BitScale's run webhooks with the SDK's webhook
// handler. It serves the handler on a local port, starts an async run whose
// webhook_url points at it, and shows the verified delivery arriving with
// the ref RunAsync gave the run. Then it shows what the handler turns away:
// forged deliveries, refused with 401 and why, and a replay of the genuine
// one, acknowledged but not handled twice.
//
// Without BITSCALE_API_KEY it starts the SDK's embedded fake BitScale
// server, allowed to deliver to the local port, which signs and delivers
// webhooks as BitScale does. The real BitScale delivers only to a public
// https:// URL: expose the local port through an HTTPS tunnel, pass the
// tunnel's URL with -public-url, and set BITSCALE_WEBHOOK_SECRET to the
// secret BitScale signs your webhooks with. The run spends credits, so with
// a real key it is started only when -run is given.
//
//	go run ./examples/webhook-receiver
//	go run ./examples/webhook-receiver -addr 127.0.0.1:8080 -public-url https://example.ngrok.app/webhooks/bitscale -grid GRID_ID -run
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

// webhookPath is where the receiver serves the webhook handler.
const webhookPath = "/webhooks/bitscale"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command line the flags refused; they printed why.
var errUsage = errors.New("usage")

// cli runs the program and returns its exit status: 0 when it did its work
// or printed the help -h asked for, 2 for a bad command line, 1 otherwise.
func cli(ctx context.Context, args []string, out, errOut io.Writer) int {
	err := run(ctx, args, out)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(errOut, "webhook-receiver:", err)
	return 1
}

// inputs collects repeated -input "Column Name=value" flags.
type inputs map[string]any

func (in inputs) String() string { return fmt.Sprint(map[string]any(in)) }

func (in inputs) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New(`want "Column Name=value"`)
	}
	in[strings.TrimSpace(name)] = value
	return nil
}

// config is what the demo does, from the flags.
type config struct {
	addr      string        // where the receiver listens
	publicURL string        // the public URL BitScale delivers to, or "" for the local one
	secret    string        // the webhook secret deliveries are signed with
	gridID    string        // the grid to run
	row       inputs        // the row to run it on, by column name
	wait      time.Duration // how long to wait for the delivery
	spend     bool          // with a real API key, start the run
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("webhook-receiver", flag.ContinueOnError)
	fs.SetOutput(out)
	cfg := config{row: inputs{}}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "the `address` the receiver listens on")
	fs.StringVar(&cfg.publicURL, "public-url", "", "with a real API key: the public https `URL` that forwards to "+webhookPath+" on -addr")
	fs.StringVar(&cfg.gridID, "grid", "", "the `ID` of the grid to run (default $BITSCALE_GRID_ID, or the embedded fake's "+bitscaletest.SeedGridID+" without BITSCALE_API_KEY)")
	fs.DurationVar(&cfg.wait, "wait", 5*time.Minute, "how long to wait for the delivery")
	fs.Var(cfg.row, "input", `an input as "Column Name=value" (repeatable; default: the reference's example row)`)
	fs.BoolVar(&cfg.spend, "run", false, "with BITSCALE_API_KEY set, start the run (spends credits); the embedded fake always runs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(cfg.row) == 0 {
		cfg.row["Full Name"], cfg.row["Company"] = "Jane Doe", "Acme Corp"
	}
	if cfg.gridID == "" {
		cfg.gridID = os.Getenv("BITSCALE_GRID_ID")
	}

	if os.Getenv("BITSCALE_API_KEY") == "" {
		if cfg.gridID == "" {
			cfg.gridID = bitscaletest.SeedGridID
		}
		return onFake(ctx, out, cfg)
	}
	return onBitScale(ctx, out, cfg)
}

// fakeQueued and fakeRunning are how long the embedded fake's run stays
// queued, then running: a moment, as a real run takes, so that a person
// sees the demo wait for the webhook. The tests, which wait for nothing
// but the delivery, set them to zero.
var fakeQueued, fakeRunning = 200 * time.Millisecond, 500 * time.Millisecond

// onFake runs the demo against a fake BitScale server started here, which
// delivers to the local URL.
func onFake(ctx context.Context, out io.Writer, cfg config) error {
	// BitScale delivers only to public https:// URLs; the fake is allowed
	// to deliver to this machine.
	srv := bitscaletest.NewServer(
		bitscaletest.WithLocalWebhooks(),
		bitscaletest.WithRunDurations(fakeQueued, fakeRunning))
	defer srv.Close()
	fmt.Fprintf(out, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n\n", srv.URL())
	c := srv.Client()
	defer c.CloseIdleConnections()
	cfg.publicURL = "" // the fake reaches the local port directly
	cfg.secret = srv.WebhookSecret()
	return demo(ctx, out, c, cfg)
}

// onBitScale runs the demo against the real API, which can deliver only to
// a public https URL; without one it explains how to get one.
func onBitScale(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.publicURL == "" {
		fmt.Fprint(out, instructions)
		return nil
	}
	if u, err := url.Parse(cfg.publicURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("-public-url %q: BitScale delivers only to an absolute https:// URL", cfg.publicURL)
	}
	cfg.secret = os.Getenv("BITSCALE_WEBHOOK_SECRET")
	if strings.TrimSpace(cfg.secret) == "" {
		return errors.New("BITSCALE_WEBHOOK_SECRET is not set: the receiver needs the secret BitScale signs your webhooks with")
	}
	if cfg.gridID == "" {
		return errors.New("no grid to run: pass -grid or set BITSCALE_GRID_ID")
	}
	if !cfg.spend {
		fmt.Fprintf(out, "The run spends credits: pass -run to start it; BitScale then delivers its webhook to %s.\n", cfg.publicURL)
		return nil
	}
	c, err := bitscale.NewClientFromEnv()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	return demo(ctx, out, c, cfg)
}

const instructions = `BITSCALE_API_KEY is set, but BitScale delivers webhooks only to a public
https:// URL, never to 127.0.0.1. To receive them here:

  1. Expose a local port through an HTTPS tunnel, for example one of:
       ngrok http 8080
       cloudflared tunnel --url http://127.0.0.1:8080
  2. Set BITSCALE_WEBHOOK_SECRET to the secret BitScale signs your webhooks with.
  3. Run the receiver on that port with the tunnel's URL and a grid of
     yours; the run spends credits:
       go run ./examples/webhook-receiver -addr 127.0.0.1:8080 \
           -public-url https://YOUR-TUNNEL-HOST` + webhookPath + ` -grid GRID_ID -run

Unset BITSCALE_API_KEY to run the whole demo against the embedded fake server.
`

// delivery is a webhook request as it arrived, kept so that the demo can
// replay it.
type delivery struct {
	body      []byte
	signature string
	runID     string
}

// received is a run the handler verified, with the request that carried it.
type received struct {
	run *bitscale.Run
	raw delivery
}

type rawKey struct{}

// keepRaw hands each request's raw body and headers down to the webhook
// function through the request's context. A service does not need this;
// the demo does, to replay a genuine delivery.
func keepRaw(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One byte over the limit, so that WebhookHandler still sees an
		// oversized body as such and answers 413.
		body, err := io.ReadAll(io.LimitReader(r.Body, bitscale.DefaultWebhookMaxBody+1))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		raw := delivery{body: body, signature: r.Header.Get(bitscale.SignatureHeader), runID: r.Header.Get(bitscale.RunIDHeader)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rawKey{}, raw)))
	})
}

// demo serves the webhook handler, starts a run that reports to it, and
// shows a genuine, a forged and a replayed delivery.
func demo(ctx context.Context, out io.Writer, c *bitscale.Client, cfg config) error {
	// The webhook function is called only with runs whose signature is
	// verified, once per run. A service would store the run here; the demo
	// hands it to the code below. An error makes the handler answer 500, so
	// that BitScale delivers the run again later.
	runs := make(chan received, 8)
	handle := func(ctx context.Context, run *bitscale.Run) error {
		raw, _ := ctx.Value(rawKey{}).(delivery)
		select {
		case runs <- received{run, raw}:
			return nil
		default:
			return errors.New("too many runs waiting to be handled")
		}
	}
	// NewWebhookHandler refuses to build a handler without a usable secret,
	// which would answer every genuine delivery 401.
	hook, err := bitscale.NewWebhookHandler(handle, bitscale.WithWebhookSecret(cfg.secret))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(webhookPath, keepRaw(hook))

	rcv, err := listen(cfg.addr, mux)
	if err != nil {
		return err
	}
	defer rcv.shutdown()

	localURL := "http://" + rcv.addr + webhookPath
	hookURL := cfg.publicURL
	if hookURL == "" {
		hookURL = localURL
	}
	fmt.Fprintf(out, "Receiving webhooks at %s\n", localURL)
	if hookURL != localURL {
		fmt.Fprintf(out, "BitScale reaches it at %s\n", hookURL)
	}

	grid, started, err := start(ctx, out, c, cfg, hookURL)
	if err != nil {
		return err
	}
	got, err := await(ctx, runs, rcv, started.ID, cfg.wait)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nVerified delivery, signed %s:\n", abbrev(got.raw.signature))
	printRun(out, grid, got.run)
	if got.run.WebhookRef == started.WebhookRef {
		fmt.Fprintln(out, "  (its ref is the one RunAsync returned: the delivery names the call that started it)")
	}

	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	if err := forge(ctx, out, hc, localURL, got.raw); err != nil {
		return err
	}
	return replay(ctx, out, hc, localURL, got.raw, runs)
}

// receiver is the HTTP server of the webhook handler.
type receiver struct {
	srv  *http.Server
	addr string        // the address it listens on
	done chan struct{} // closed when it stops serving
	err  error         // why it stopped, once done is closed
}

// listen starts serving h on addr.
func listen(addr string, h http.Handler) (*receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &receiver{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		r.err = r.srv.Serve(ln)
	}()
	return r, nil
}

// shutdown stops the receiver, letting requests being served finish.
func (r *receiver) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		r.srv.Close() // cut the requests still running
	}
	<-r.done
}

// start starts an async run of the grid on the row, reporting to hookURL.
func start(ctx context.Context, out io.Writer, c *bitscale.Client, cfg config, hookURL string) (*bitscale.Grid, *bitscale.Run, error) {
	grid, _, err := c.Grids.Get(ctx, cfg.gridID)
	if err != nil {
		return nil, nil, err
	}
	req, err := grid.RunRequest(cfg.row)
	if err != nil {
		return nil, nil, err
	}
	req.WebhookURL = hookURL
	run, _, err := c.Grids.RunAsync(ctx, grid.ID, req)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "Started run %s of grid %s (%s); waiting for its webhook\n", run.ID, grid.ID, run.Status)
	fmt.Fprintf(out, "  webhook ref %s\n", run.WebhookRef)
	return grid, run, nil
}

// await waits for the handler to receive the run runID. Other runs
// delivered to the same URL meanwhile are skipped.
func await(ctx context.Context, runs <-chan received, rcv *receiver, runID string, wait time.Duration) (received, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case got := <-runs:
			if got.run.ID == runID {
				return got, nil
			}
		case <-rcv.done:
			return received{}, fmt.Errorf("the receiver stopped: %w", rcv.err)
		case <-timer.C:
			return received{}, fmt.Errorf("no webhook for run %s within %v", runID, wait)
		case <-ctx.Done():
			return received{}, ctx.Err()
		}
	}
}

// forge sends deliveries BitScale did not sign: the genuine body with its
// status changed, signed with another secret, with no signature and with a
// signature in a format that is not BitScale's. The handler must refuse
// each before decoding it, and says why.
func forge(ctx context.Context, out io.Writer, hc *http.Client, hookURL string, genuine delivery) error {
	fmt.Fprintln(out, "\nForged deliveries:")
	forgeries := []struct {
		what string
		d    delivery
	}{
		{"status changed, genuine signature", delivery{tamper(genuine.body), genuine.signature, genuine.runID}},
		{"signed with another secret", delivery{genuine.body, bitscale.SignWebhookPayload(genuine.body, "whsec_guessed"), genuine.runID}},
		{"no signature", delivery{genuine.body, "", genuine.runID}},
		{"signature not SHA-256", delivery{genuine.body, "sha1=" + genuine.signature[:min(40, len(genuine.signature))], genuine.runID}},
	}
	for _, f := range forgeries {
		code, text, err := post(ctx, hc, hookURL, f.d)
		if err != nil {
			return err
		}
		verdict := "refused: " + text
		if code/100 == 2 {
			verdict = "ACCEPTED: the handler does not verify signatures"
		}
		fmt.Fprintf(out, "  %-34s -> %d %s, %s\n", f.what, code, http.StatusText(code), verdict)
	}
	return nil
}

// tamper returns body with the run's status flipped, as a forger would.
func tamper(body []byte) []byte {
	forged := bytes.Replace(body, []byte(`"completed"`), []byte(`"failed"`), 1)
	if bytes.Equal(forged, body) {
		forged = bytes.Replace(body, []byte(`"failed"`), []byte(`"completed"`), 1)
	}
	return forged
}

// replay sends the genuine delivery again, as BitScale does when it did
// not see the first one acknowledged. The handler acknowledges it without
// handling the run a second time.
func replay(ctx context.Context, out io.Writer, hc *http.Client, hookURL string, genuine delivery, runs <-chan received) error {
	code, _, err := post(ctx, hc, hookURL, genuine)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nReplayed the genuine delivery -> %d %s, ", code, http.StatusText(code))
	// The handler answers only once the webhook function has returned, so
	// a second handling would be waiting in runs by now.
	again := false
	for len(runs) > 0 {
		if got := <-runs; got.run.ID == genuine.runID {
			again = true
		}
	}
	if again {
		fmt.Fprintf(out, "run %s handled AGAIN\n", genuine.runID)
		return nil
	}
	fmt.Fprintln(out, "acknowledged and not handled again")
	return nil
}

// post sends d to hookURL as BitScale sends a delivery, with no signature
// header if d has none, and returns the status and text of the answer.
func post(ctx context.Context, hc *http.Client, hookURL string, d delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(d.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.signature != "" {
		req.Header.Set(bitscale.SignatureHeader, d.signature)
	}
	req.Header.Set(bitscale.RunIDHeader, d.runID)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	io.Copy(io.Discard, resp.Body) // so that the connection can be reused
	return resp.StatusCode, strings.TrimSpace(string(text)), err
}

func printRun(out io.Writer, grid *bitscale.Grid, run *bitscale.Run) {
	fmt.Fprintf(out, "  run     %s\n", run.ID)
	if run.WebhookRef != "" {
		fmt.Fprintf(out, "  ref     %s\n", run.WebhookRef)
	}
	fmt.Fprintf(out, "  grid    %s\n", run.GridID)
	fmt.Fprintf(out, "  status  %s\n", run.Status)
	if run.Error != nil {
		fmt.Fprintf(out, "  error   %s\n", run.Error.Message)
	}
	if run.Credits != nil {
		fmt.Fprintf(out, "  credits %d consumed, %d left\n", run.Credits.Consumed, run.Credits.Remaining)
	}
	outputs := grid.OutputsByName(run)
	names := make([]string, 0, len(outputs))
	for name := range outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Fprintln(out, "  outputs:")
	}
	for _, name := range names {
		fmt.Fprintf(out, "    %-16s %v\n", name, outputs[name])
	}
}

// abbrev shortens a signature for display.
func abbrev(sig string) string {
	if len(sig) <= 16 {
		return sig
	}
	return sig[:16] + "…"
}
