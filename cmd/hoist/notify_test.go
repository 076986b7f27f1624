package main

import (
	"strings"
	"testing"
)

func TestNotifyFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-addr", "mail.example.com"}, `--smtp-addr "mail.example.com": want HOST:PORT`},
		{[]string{"--smtp-addr", "mail.example.com:25"}, "--smtp-addr needs --smtp-from"},
		{[]string{"--public-url", "hoist.example.com"}, `--public-url "hoist.example.com": want http(s)://`},
		{[]string{"--notify-webhook", "ftp://h/x"}, `--notify-webhook: webhook URL "ftp://h/x": want http(s)://host/path`},
		{[]string{"--notify-slack", "hooks.slack.com"}, "--notify-slack: webhook URL"},
	}
	for _, cmd := range []string{"serve", "run"} {
		for _, tc := range tests {
			args := append([]string{cmd, "--index", "x"}, tc.args...)
			code, _, errs := hoist(args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("hoist %s: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, errs, tc.want)
			}
		}
	}
}

func TestSMTPPasswordNotShown(t *testing.T) {
	t.Setenv("HOIST_SMTP_PASSWORD", "hunter2")
	_, out, errs := hoist("serve", "-h")
	if strings.Contains(out+errs, "hunter2") {
		t.Errorf("hoist serve -h shows $HOIST_SMTP_PASSWORD:\n%s%s", out, errs)
	}
	var f notifyFlags
	if err := f.check(nil); err != nil || f.smtpPass != "hunter2" {
		t.Errorf("check: %v, password %q; want it from $HOIST_SMTP_PASSWORD", err, f.smtpPass)
	}
}
