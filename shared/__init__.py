"""Code both apps share: the domain, the alert rules, storage, configuration and the HTTP edge.

Domain modules (``domain``, ``rules``, ``services``) import no Flask, gRPC or pika.
"""
