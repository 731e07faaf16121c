{{ printf "%v %f %g %e" 1.5 1.5 1.5 1.5 }}
