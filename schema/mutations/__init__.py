"""Mutation: every change, one module per aggregate, combined into one root type."""

import strawberry

from .catalog import CatalogMutations
from .channels import ChannelMutations
from .commit import CommitMutations
from .console import ConsoleMutations
from .customers import CustomerMutations
from .directives import DirectiveMutations
from .orders import OrderMutations
from .payments import PaymentMutations
from .refs import RefMutations
from .sessions import SessionMutations
from .tokens import TokenMutations


@strawberry.type(description="Changes. Every payload carries `errors`, empty on success.")
class Mutation(ChannelMutations, SessionMutations, CommitMutations, OrderMutations, PaymentMutations,
               DirectiveMutations, CatalogMutations, TokenMutations, CustomerMutations, RefMutations,
               ConsoleMutations):
    pass


__all__ = ["Mutation"]
