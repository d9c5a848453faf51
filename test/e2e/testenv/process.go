package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// stopGrace is how long a process has to exit after SIGTERM before it is killed.
// kube-apiserver stops listening and cleans up its lease at once but then waits
// up to a minute for open watches (kwok's, the controllers') to go idle, which
// they never do; its stored state is in etcd, so killing it loses nothing.
const stopGrace = 3 * time.Second

// process is one running server binary. Its output goes to a log file in the
// state directory, whose end waitReady quotes when the process fails to start.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed when the process has exited and err is set.
	done chan struct{}
	err  error
}

// startProcess starts bin with args, output appended to dir/name.log. env is added
// to the test binary's environment. The process gets SIGKILL when the thread that
// started it exits, so it does not outlive a test binary that dies without
// calling stop.
func startProcess(dir, name, bin string, args, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to stopGrace, then kills the process. It returns
// once the process has exited; calling it again is harmless.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady calls ready every 100ms until it returns nil, the process exits or
// ctx ends. The error names the process and quotes the end of its log.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready; %s", p.name, p.err, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last check: %v); %s", p.name, ctx.Err(), last, p.logTail())
		case <-tick.C:
		}
	}
}

// logTail returns the last lines of the process's log, for error messages.
func (p *process) logTail() string {
	const max = 2000
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("log %s: %v", p.logPath, err)
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("end of %s:\n%s", p.logPath, b)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that nothing listens on
// right now. Another process may take one before the caller binds it; the
// caller's readiness check then fails with the server's own error in its message.
func freePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen so that no port comes back twice.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// hostPort returns "127.0.0.1:port".
func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
