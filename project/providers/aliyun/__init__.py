"""Alibaba Cloud SMS (dysmsapi 2017-05-25): the provider, its status table, its reports."""
