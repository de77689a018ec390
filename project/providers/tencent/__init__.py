"""Tencent Cloud SMS (API 2021-01-11): the provider, its status table, its reports."""
