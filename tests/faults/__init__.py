"""Fault tests of the split variants, both apps: dead, hung and slow peers, a lost broker, crashes."""
