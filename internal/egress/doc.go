// Package egress is the one way kubelog opens a connection to an endpoint a
// tenant chose: the Kubernetes API servers of clusters registered through the
// API and the S3 endpoints of archive policies. A Policy decides which IP
// addresses may be dialled. Its dialer checks the address the socket is
// actually connecting to, after DNS resolution, so a name that resolves (or
// re-resolves, as in DNS rebinding) to loopback, link-local such as the cloud
// metadata service 169.254.169.254, or a refused range is never reached.
//
// Every failure the dialer returns is an *Error whose Error text is safe to
// show the tenant: it names the endpoint as the tenant gave it and never the
// address a name resolved to or the dial error, so "connection refused",
// "i/o timeout" and "no route to host" read alike and cannot be used to map
// the internal network. Detail gives the server log the real cause.
//
// Wiring it in:
//   - net/http clients (minio-go): Transport as the client's transport and
//     CheckRedirect as its redirect policy.
//   - client-go: DialContext as rest.Config.Dial and NoProxy as
//     rest.Config.Proxy. Without NoProxy client-go falls back to the proxy in
//     the environment, which would then connect on kubelog's behalf to
//     addresses this package never sees.
//   - Any error of an outbound call goes through Public before it reaches a
//     tenant.
package egress
