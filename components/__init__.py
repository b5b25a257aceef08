"""rankops components: one sub-package per pipeline stage; pure logic importable without KFP."""
