"""faithful"""
