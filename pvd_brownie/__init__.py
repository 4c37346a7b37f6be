"""pvd's brownie front door: how brownie loads the project (pvd_brownie.boot,
pvd_brownie.loader), the console's view of a deployed system (pvd_brownie.console) and
the plain functions behind the `brownie run` scripts in scripts/ (pvd_brownie.deploy).

The pvd package never imports brownie; this package is where the two meet.
"""
