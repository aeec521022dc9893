"""Pure models and parsers, read on both sides: the ring layout of design section 2,
the first-fit model of the high-memory allocator, the guest's plan and result, the
kernel-log judge, KTAP, JUnit and figure formats.  The standard library only.
"""
