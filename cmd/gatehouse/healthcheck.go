package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// defaultHealthURL is /healthz on the default admin_listen.
const defaultHealthURL = "http://127.0.0.1:9901/healthz"

// cmdHealthcheck GETs the admin listener's /healthz and exits 0 on 200, 1
// otherwise. It exists for container HEALTHCHECKs: the distroless image has
// no curl or wget. The admin listener stays on loopback; a HEALTHCHECK runs
// in the container's network namespace and reaches it there.
func cmdHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	target := fs.String("url", defaultHealthURL, "the URL to GET (the admin listener's /healthz)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	help := commandHelp{
		synopsis: "gatehouse healthcheck [--url URL] [--timeout 2s]",
		about:    "GETs URL and exits 0 on 200 OK, 1 otherwise (a redirect, an error, a timeout): the HEALTHCHECK of a container image that has no curl.",
		examples: "  gatehouse healthcheck                                         # the admin listener's /healthz on 127.0.0.1:9901\n" +
			"  gatehouse healthcheck --url http://127.0.0.1:9911/healthz    # another admin_listen",
	}
	if code, ok := parseFlags(fs, args, help, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := healthcheck(*target, *timeout); err != nil {
		fmt.Fprintf(stderr, "gatehouse healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

func healthcheck(target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --url %q: want http://host:port/path", target)
	}
	if timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be greater than 0", timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		// A proxy from the environment must not answer for the local process,
		// and a redirect is not health.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u.Redacted(), resp.Status)
	}
	return nil
}
