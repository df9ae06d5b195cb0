// tlsgo.go - a small HTTPS server and client in Go (crypto/tls, HTTP/1.1),
// built by tests/capture/e2e_tls_go.sh: "server PORT CERT KEY" serves
// "hello PATH" (404 for /missing); "client PORT CERT" waits 1.5 s (so that
// the capture probes this new program first), then GETs /one, /two and
// /missing on one connection with Authorization: Bearer $TOKEN and prints
// "STATUS BODY" lines.

package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: tlsgo server|client PORT CERT [KEY|N]")
		os.Exit(2)
	}
	port, cert := os.Args[2], os.Args[3]
	switch os.Args[1] {
	case "server":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/missing" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintf(w, "hello %s\n", r.URL.Path)
		})
		fmt.Println("listening")
		err := http.ListenAndServeTLS("127.0.0.1:"+port, cert, os.Args[4], nil)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "client":
		pem, err := os.ReadFile(cert)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false,
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
		// give the capture time to probe this new program
		time.Sleep(1500 * time.Millisecond)
		for _, p := range []string{"/one", "/two", "/missing"} {
			req, _ := http.NewRequest("GET", "https://127.0.0.1:"+port+p, nil)
			req.Header.Set("Authorization", "Bearer "+os.Getenv("TOKEN"))
			resp, err := c.Do(req)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Printf("%d %s", resp.StatusCode, body)
		}
	}
}
