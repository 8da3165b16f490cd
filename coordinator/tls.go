package coordinator

import (
	"crypto/tls"
	"fmt"
)

// loadTLS loads the certificate and key clients are served with. TLS 1.2 is
// the oldest version offered.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("coordinator: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
