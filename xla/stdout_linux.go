//go:build linux

package xla

import "syscall"

// dupTo makes file descriptor newFd refer to oldFd's file.
func dupTo(oldFd, newFd int) error { return syscall.Dup3(oldFd, newFd, 0) }
