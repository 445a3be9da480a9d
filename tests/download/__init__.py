"""Tests of the downloader against the loopback archive."""
